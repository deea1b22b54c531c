/**
 * Huawei TaurusDB (formerly GaussDB for MySQL), API v3, "Deleting a Manual Backup", per providers.md §5.
 * Delete: DELETE /v3/{project}/backups/{id} → 200 {backup_id, backup_name}. There is no job id: the
 * deletion is confirmed by listing the backups filtered by backup_id until it no longer appears.
 * Only manual backups can be deleted: an automated one (type auto) is reported `blocked` without ever
 * calling delete.
 */
import { z } from 'zod';
import type { ItemRef } from '../../workflows/model';
import type { AccountConfig, HuaweiAccountConfig } from '../../worker/config';
import type { HttpResponse } from '../http';
import { ProviderError } from '../provider-error';
import {
  type AccountRef,
  type AdapterFactory,
  parseBody,
  type CallContext,
  type ListPage,
  type Observation,
  type ProviderAdapter,
} from './adapter';
import {
  classifyHuawei,
  huaweiErrorCode,
  huaweiSessionFor,
  utcIso,
  type HuaweiDialect,
  type HuaweiSession,
} from './huawei';

const backupSchema = z.object({
  id: z.string(),
  name: z.string().nullish(),
  /** "yyyy-mm-ddThh:mm:ssZ" with Z an offset like +0800. */
  begin_time: z.string().nullish(),
  end_time: z.string().nullish(),
  status: z.string(),
  take_up_time: z.number().nullish(),
  /** auto | manual (sibling services spell it Auto | Manual). */
  type: z.string(),
  /** KB (inferred from the sibling GaussDB services; the TaurusDB page gives no unit). */
  size: z.number().nullish(),
  datastore: z.object({ type: z.string().nullish(), version: z.string().nullish() }).nullish(),
  instance_id: z.string(),
  description: z.string().nullish(),
});
const listSchema = z.object({ backups: z.array(backupSchema), total_count: z.number().int().nonnegative() });
const deleteSchema = z.object({ backup_id: z.string(), backup_name: z.string().nullish() }).loose();
type TaurusBackup = z.output<typeof backupSchema>;

export const TAURUSDB_DIALECT: HuaweiDialect = {
  notFound: new Set(['DBS.201203', 'DBS.201010']),
  marker: 'DBS.201203 or DBS.201010',
  busy: new Set(['DBS.201205', 'DBS.200011']),
  transient: new Set(['DBS.108000', 'DBS.200005']),
};
/** DBS.201208 "not allowed in this backup status". */
const STATUS_REFUSED = 'DBS.201208';
const LIST_PAGE = 100;
const SUCCESSFUL = new Set(['COMPLETED', 'AVAILABLE']);

export function isAutomated(b: Pick<TaurusBackup, 'type'>): boolean {
  return b.type.toLowerCase() === 'auto';
}

export class TaurusDbAdapter implements ProviderAdapter {
  private readonly ref: AccountRef;

  constructor(
    private readonly accountName: string,
    private readonly account: HuaweiAccountConfig,
    private readonly session: HuaweiSession,
  ) {
    this.ref = { name: accountName, endpoint: account.endpoint };
  }

  private path(rest: string): string {
    return `/v3/${encodeURIComponent(this.account.projectId)}${rest}`;
  }

  private send(method: 'GET' | 'DELETE', rest: string, ctx: CallContext): Promise<HttpResponse> {
    return this.session.send(method, this.path(rest), ctx, { 'X-Language': 'en-us' });
  }

  async requestDeletion(item: ItemRef, ctx: CallContext): Promise<Record<string, string>> {
    const what = `TaurusDB delete backup ${item.id}`;
    // Check first: gone → absent at once; automated → blocked, and never a delete call for it.
    const seen = await this.find(item.id, ctx);
    if (!seen) throw new ProviderError('not-found', `${what}: not listed by the provider`);
    if (isAutomated(seen)) {
      throw new ProviderError(
        'blocked',
        `${what}: automated backup (type ${seen.type}); TaurusDB deletes manual backups only`,
      );
    }
    const res = await this.send('DELETE', `/backups/${encodeURIComponent(item.id)}`, ctx);
    if (res.status !== 200 && res.status !== 202 && res.status !== 204)
      throw this.classify(res, what, seen.status);
    // Accepted: the deletion runs whatever the body says, and observing it needs nothing from the
    // body (the backup is looked up by our id). A body without `backup_id`, or naming another, is
    // noted in the handle, never a failure while the deletion goes on (Guarantees: "An accepted delete
    // keeps its handle").
    const body = deleteSchema.safeParse(res.body);
    if (body.success && body.data.backup_id === item.id) return {};
    const said = body.success ? JSON.stringify(body.data.backup_id) : 'no backup_id';
    return { note: `TaurusDB accepted the delete (HTTP ${res.status}) but its answer carried ${said}` };
  }

  async observeDeletion(
    item: ItemRef,
    _handle: Record<string, string>,
    ctx: CallContext,
  ): Promise<Observation> {
    let seen: TaurusBackup | undefined;
    try {
      seen = await this.find(item.id, ctx);
    } catch (err) {
      if (err instanceof ProviderError && err.kind === 'not-found') return { state: 'gone' };
      throw err;
    }
    // Listed with its prior status (or an undocumented DELETING) until the deletion completes.
    return seen ? { state: 'pending', status: seen.status } : { state: 'gone' };
  }

  async listBackups(cursor: string | undefined, ctx: CallContext): Promise<ListPage> {
    const offset = cursor ? Number(cursor) : 0;
    const res = await this.send('GET', `/backups?offset=${offset}&limit=${LIST_PAGE}`, ctx);
    if (res.status !== 200) throw this.classify(res, 'TaurusDB list backups');
    const body = parseBody(listSchema, res, 'TaurusDB list backups');
    const records = body.backups.map((b) => ({
      account: this.accountName,
      provider: 'taurusdb' as const,
      id: b.id,
      backupId: b.id,
      ...(b.name ? { name: b.name } : {}),
      createdAt: utcIso(b.begin_time),
      status: b.status,
      successful: SUCCESSFUL.has(b.status),
      ...(b.size != null ? { sizeBytes: Math.round(b.size * 1024) } : {}),
      group: b.instance_id,
      deletable: isAutomated(b)
        ? { ok: false as const, reason: 'automated backup: TaurusDB deletes manual backups only' }
        : b.status === 'BUILDING'
          ? { ok: false as const, reason: 'status BUILDING (being created)' }
          : { ok: true as const },
    }));
    const end = offset + body.backups.length;
    const page = { records, total: body.total_count };
    return body.backups.length > 0 && end < body.total_count ? { ...page, next: String(end) } : page;
  }

  /** The backup as the list filtered by backup_id shows it; undefined when it is not listed. */
  private async find(id: string, ctx: CallContext): Promise<TaurusBackup | undefined> {
    const what = `TaurusDB query backup ${id}`;
    const res = await this.send('GET', `/backups?backup_id=${encodeURIComponent(id)}`, ctx);
    if (res.status !== 200) throw this.classify(res, what);
    const body = parseBody(listSchema, res, what);
    const other = body.backups.findIndex((b) => b.id !== id);
    if (other >= 0) {
      // A list that ignores the filter could hide our backup on a later page: never read that as "gone".
      throw new ProviderError(
        'malformed',
        `${what}: field backups[${other}].id: ${JSON.stringify(body.backups[other]!.id)} does not match the backup_id filter`,
        {
          status: res.status,
        },
      );
    }
    return body.backups[0];
  }

  /**
   * TaurusDB codes first, then the shared Huawei/HTTP classification. `status` is the backup's status
   * when known: DBS.201208 on a BUILDING backup means "retry later", on any other status "blocked".
   */
  classify(res: HttpResponse, what: string, status?: string): ProviderError {
    const { code, message } = huaweiErrorCode(res);
    if (code === STATUS_REFUSED) {
      const info = { status: res.status, code };
      const detail = `${code}: ${message ?? ''}`.replace(/: $/, '');
      const building = status === 'BUILDING' || /\bBUILDING\b|being (created|built)/i.test(message ?? '');
      return building
        ? new ProviderError('busy', `${what}: ${detail} (the backup is still being created)`, info)
        : new ProviderError(
            'blocked',
            `${what}: ${detail}${status ? ` (backup status ${status})` : ''}`,
            info,
          );
    }
    return classifyHuawei(res, what, TAURUSDB_DIALECT, this.ref);
  }
}

export const taurusDbAdapterFactory: AdapterFactory = (name, account, loaded, http) => {
  const a = account as Extract<AccountConfig, { provider: 'taurusdb' }>;
  return new TaurusDbAdapter(name, a, huaweiSessionFor(name, a, loaded, http));
};

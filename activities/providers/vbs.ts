/**
 * Huawei VBS, native OpenStack V3 (Cinder) API.
 * Delete: DELETE /v3/{project}/backups/{id} → 202. Done when GET answers 404 itemNotFound;
 * failed when the status becomes error_deleting. Delete is accepted only from available/error
 * (upstream Cinder); a backup with dependent incrementals, or used to create an image, is blocked.
 */
import { z } from 'zod';
import type { ItemRef } from '../../contract/model';
import type { AccountConfig } from '../../worker/config';
import type { HttpResponse } from '../http';
import { ProviderError } from '../provider-error';
import {
  parseBody,
  type AdapterFactory,
  type CallContext,
  type ListPage,
  type Observation,
  type ProviderAdapter,
} from './adapter';
import { classifyHuawei, HuaweiServiceAdapter, huaweiSessionFor, utcIso, type HuaweiDialect } from './huawei';

const backupSchema = z.object({
  id: z.string(),
  name: z.string().nullish(),
  status: z.string(),
  fail_reason: z.string().nullish(),
  volume_id: z.string().nullish(),
  created_at: z.string().nullish(),
  size: z.number().nullish(),
  is_incremental: z.boolean().nullish(),
  has_dependent_backups: z.boolean().nullish(),
});
const showSchema = z.object({ backup: backupSchema });
const listSchema = z.object({
  backups: z.array(backupSchema),
  backups_links: z.array(z.object({ href: z.string(), rel: z.string() })).nullish(),
  links: z.array(z.object({ href: z.string(), rel: z.string() })).nullish(),
});

const LIST_PAGE = 100;

/**
 * VBS answers in the OpenStack dialect ({"itemNotFound": {...}}); Huawei codes may sit inside the
 * message ("VolumeBackup.0113 ..."), which huaweiErrorCode reads out.
 */
export const VBS_DIALECT: HuaweiDialect = {
  notFound: new Set(['itemNotFound']),
  marker: 'itemNotFound',
  transient: new Set(['VolumeBackup.0900']),
  blocked: new Map([['VolumeBackup.0113', 'the backup was used to create an image']]),
  special({ res, message, info }, what) {
    if (res.status !== 400 || !message) return undefined;
    if (/dependent|incremental/i.test(message))
      return new ProviderError('blocked', `${what}: ${message}`, info);
    // Cinder refuses delete outside available/error: another operation is running; retry later.
    if (/status must be|invalid backup|backing-up|restoring|creating/i.test(message))
      return new ProviderError('busy', `${what}: ${message}`, info);
    return undefined;
  },
};

export class VbsAdapter extends HuaweiServiceAdapter implements ProviderAdapter {
  protected readonly apiVersion = 'v3';
  /** VBS shows a backup being deleted as `deleting` (see activities/resent-items.ts). */
  readonly deletingStatuses: ReadonlySet<string> = new Set(['deleting']);
  async requestDeletion(item: ItemRef, ctx: CallContext): Promise<Record<string, string>> {
    const res = await this.session.send('DELETE', this.path(`/backups/${encodeURIComponent(item.id)}`), ctx);
    if (res.status === 202 || res.status === 200 || res.status === 204) return {};
    throw this.classify(res, `VBS delete backup ${item.id}`);
  }

  async observeDeletion(
    item: ItemRef,
    _handle: Record<string, string>,
    ctx: CallContext,
  ): Promise<Observation> {
    const res = await this.session.send('GET', this.path(`/backups/${encodeURIComponent(item.id)}`), ctx);
    if (res.status !== 200) {
      const err = this.classify(res, `VBS get backup ${item.id}`);
      if (err.kind === 'not-found') return { state: 'gone' };
      throw err;
    }
    const { backup } = parseBody(showSchema, res, `VBS get backup ${item.id}`);
    if (backup.status === 'error_deleting') {
      return {
        state: 'failed',
        status: backup.status,
        reason: backup.fail_reason || 'provider reports error_deleting',
        code: 'error_deleting',
      };
    }
    return { state: 'pending', status: backup.status };
  }

  async listBackups(cursor: string | undefined, ctx: CallContext): Promise<ListPage> {
    const offset = cursor ? Number(cursor) : 0;
    const res = await this.session.send(
      'GET',
      this.path(`/backups/detail?offset=${offset}&limit=${LIST_PAGE}`),
      ctx,
    );
    if (res.status !== 200) throw this.classify(res, 'VBS list backups');
    const body = parseBody(listSchema, res, 'VBS list backups');
    const links = [...(body.backups_links ?? []), ...(body.links ?? [])];
    const records = body.backups.map((b) => ({
      account: this.accountName,
      provider: 'vbs' as const,
      id: b.id,
      backupId: b.id,
      ...(b.name ? { name: b.name } : {}),
      createdAt: utcIso(b.created_at),
      status: b.status,
      successful: b.status === 'available',
      ...(b.size != null ? { sizeBytes: b.size * 1024 ** 3 } : {}),
      group: b.volume_id ?? 'unknown-volume',
      deletable: b.has_dependent_backups
        ? { ok: false as const, reason: 'has dependent incremental backups' }
        : b.status === 'available' || b.status === 'error'
          ? { ok: true as const }
          : { ok: false as const, reason: `status ${b.status}` },
    }));
    const hasNext = links.some((l) => l.rel === 'next');
    return hasNext ? { records, next: String(offset + body.backups.length) } : { records };
  }

  classify(res: HttpResponse, what: string): ProviderError {
    return classifyHuawei(res, what, VBS_DIALECT, this.ref);
  }
}

export const vbsAdapterFactory: AdapterFactory = (name, account, loaded, http) => {
  const a = account as Extract<AccountConfig, { provider: 'vbs' }>;
  return new VbsAdapter(name, a, huaweiSessionFor(name, a, loaded, http));
};

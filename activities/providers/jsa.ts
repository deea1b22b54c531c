/**
 * Juniper Secure Analytics (JSA) REST API 16.0, the same API as IBM QRadar 16.0 (providers.md §1).
 *
 * Delete: DELETE /api/backup_and_restore/backups/{id} → 202 + the backup object (now DELETING, or
 * CANCELLING when the backup was still INITIALIZING / IN_PROGRESS). Done when GET on the same path
 * answers 404 code 1001. Auth is a static authorized-service token (`SEC`) or HTTP Basic; there is no
 * token endpoint, so nothing to renew: a 401 is an `auth` error at once.
 *
 * 422 code 1017 ("only deletable in INITIALIZING, IN_PROGRESS, FAILED, SUCCESS, MISSING") has two
 * readings: the backup is already DELETING / CANCELLING (a repeated delete: keep observing), or it is
 * in some other state JSA will not delete from. requestDeletion looks at the backup to tell which.
 */
import { z } from 'zod';
import type { BackupRecord, ItemRef } from '../../workflows/model';
import type { AccountConfig, LoadedConfig } from '../../worker/config';
import { classifyStatus, truncate, type HttpClient, type HttpResponse } from '../http';
import { ProviderError } from '../provider-error';
import {
  misconfiguredEndpoint,
  parseBody,
  type AccountRef,
  type CallContext,
  type DeletionHandle,
  type ListPage,
  type Observation,
  type ProviderAdapter,
} from './adapter';

export type JsaAccountConfig = Extract<AccountConfig, { provider: 'jsa' }>;
export type JsaCredentials = { token: string } | { username: string; password: string };

export const JSA_API_VERSION = '16.0';
/** Statuses JSA deletes from (422/1017 otherwise). INITIALIZING / IN_PROGRESS are cancelled. */
export const JSA_DELETABLE = ['INITIALIZING', 'IN_PROGRESS', 'FAILED', 'SUCCESS', 'MISSING'] as const;
/** Statuses of a deletion (or cancellation) under way: the backup disappears at the end. */
export const JSA_DELETING = ['DELETING', 'CANCELLING'] as const;
export const JSA_CODE_NOT_FOUND = 1001;
export const JSA_CODE_NOT_DELETABLE = 1017;
export const JSA_PAGE_SIZE = 50;

const epochMs = z.number().int().nonnegative();

/** The documented backup object. Only what we use is required; the rest may be null or absent. */
/** What an accepted delete's body may carry; nothing of it is required (see requestDeletion). */
const jsaAcceptedSchema = z.object({ id: z.unknown(), status: z.string().nullish() });

export const jsaBackupSchema = z.object({
  id: z.number().int(),
  status: z.string().min(1),
  type: z.string().nullish(),
  name: z.string().nullish(),
  description: z.string().nullish(),
  host_id: z.number().int().nullish(),
  build_version: z.string().nullish(),
  configuration_id: z.union([z.number(), z.string()]).nullish(),
  content_file_path: z.string().nullish(),
  /** Spelled "intiated_by" in the 16.0 documentation; "initiated_by" accepted too. */
  intiated_by: z.string().nullish(),
  initiated_by: z.string().nullish(),
  is_valid: z.boolean().nullish(),
  is_version_compatible: z.boolean().nullish(),
  size_on_disk: z.number().nullish(),
  time_initiated: epochMs.nullish(),
  time_completed: epochMs.nullish(),
  version: z.string().nullish(),
});
export type JsaBackup = z.output<typeof jsaBackupSchema>;

/**
 * For retention the type is required (it names the series). The creation time is read when it is
 * epoch milliseconds; anything else keeps the backup ("creation time unknown"), see record(). The
 * completion time is not used, so it is not checked.
 */
const listedBackupSchema = jsaBackupSchema.extend({
  time_initiated: z.unknown(),
  time_completed: z.unknown(),
  type: z.string().min(1),
});
const listSchema = z.array(listedBackupSchema);

/** `{message, details, description, code, http_response: {message, code}}`. */
const jsaErrorSchema = z.object({
  message: z.string().nullish(),
  description: z.string().nullish(),
  code: z.union([z.number(), z.string()]).nullish(),
  http_response: z.object({ message: z.string().nullish(), code: z.number().nullish() }).nullish(),
});

export function jsaErrorCode(res: HttpResponse): { code?: number; message?: string } {
  const p = jsaErrorSchema.safeParse(res.body);
  if (!p.success) return {};
  const raw = p.data.code;
  const code = raw === null || raw === undefined || raw === '' ? undefined : Number(raw);
  const message =
    [p.data.message, p.data.description].filter((s) => !!s).join(' — ') ||
    p.data.http_response?.message ||
    undefined;
  return { ...(code !== undefined && !Number.isNaN(code) ? { code } : {}), ...(message ? { message } : {}) };
}

/** "items 0-49/120" → start 0, end 49, total 120. An empty result may read "items 0--1/0". */
const CONTENT_RANGE = /^items\s+(\d+)-(-?\d+)\/(\d+|\*)$/i;

export class JsaAdapter implements ProviderAdapter {
  private readonly base: string;
  private readonly ref: AccountRef;

  constructor(
    private readonly accountName: string,
    account: Pick<JsaAccountConfig, 'endpoint'>,
    private readonly http: HttpClient,
    private readonly credentials: () => JsaCredentials,
  ) {
    // The endpoint is the console (https://console); tolerate one written with the /api suffix.
    this.base = account.endpoint.replace(/\/+$/, '').replace(/\/api$/, '');
    this.ref = { name: accountName, endpoint: account.endpoint };
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const c = this.credentials();
    const auth: Record<string, string> =
      'token' in c
        ? { SEC: c.token }
        : { Authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}` };
    return { Version: JSA_API_VERSION, Accept: 'application/json', ...auth, ...extra };
  }

  private send(
    method: 'GET' | 'DELETE',
    path: string,
    ctx: CallContext,
    extra?: Record<string, string>,
  ): Promise<HttpResponse> {
    return this.http.send({
      method,
      url: `${this.base}/api${path}`,
      headers: this.headers(extra),
      signal: ctx.signal,
    });
  }

  private backupPath(item: ItemRef): string {
    if (!/^\d+$/.test(item.id)) {
      throw new ProviderError(
        'rejected',
        `JSA backup ids are integers; "${item.id}" cannot name a JSA backup`,
        { code: 'InvalidId' },
      );
    }
    return `/backup_and_restore/backups/${item.id}`;
  }

  async requestDeletion(item: ItemRef, ctx: CallContext): Promise<DeletionHandle> {
    const what = `JSA delete backup ${item.id}`;
    const res = await this.send('DELETE', this.backupPath(item), ctx);
    if (res.status === 202 || res.status === 200) {
      // Accepted: JSA deletes the backup the path named, whatever the body says. Nothing in the body
      // is needed to observe it (a GET of the same path), so a body that does not echo our id (or is
      // not the documented shape) is noted, never a failure of an item whose deletion goes on
      // (Guarantees: "An accepted delete keeps its handle").
      const echoed = jsaAcceptedSchema.safeParse(res.body);
      const id = echoed.success ? echoed.data.id : undefined;
      if (echoed.success && String(id) === item.id && typeof id === 'number')
        return echoed.data.status ? { status: echoed.data.status } : {};
      return {
        note: truncate(
          `JSA accepted the delete (HTTP ${res.status}) but echoed id ${JSON.stringify(id ?? null)} for backup ${item.id}`,
          200,
        ),
      };
    }
    const err = this.classify(res, what);
    if (err.kind === 'in-progress') throw await this.confirmInProgress(item, err, ctx);
    throw err;
  }

  /**
   * 422/1017 on delete: if the backup is DELETING or CANCELLING our (or someone's) deletion is under way
   * and we observe it; gone means not-found; any other status is another operation JSA will not
   * interrupt, so we come back later (busy).
   */
  private async confirmInProgress(
    item: ItemRef,
    err: ProviderError,
    ctx: CallContext,
  ): Promise<ProviderError> {
    const seen = await this.get(item, ctx);
    if (!seen) return new ProviderError('not-found', `${err.message}; the backup is gone`, { ...err.info });
    if ((JSA_DELETING as readonly string[]).includes(seen.status)) {
      return new ProviderError('in-progress', `${err.message}; backup is ${seen.status}`, { ...err.info });
    }
    return new ProviderError('busy', `${err.message}; backup is ${seen.status}, retry later`, {
      ...err.info,
    });
  }

  /** The backup, or undefined on 404/1001. */
  private async get(item: ItemRef, ctx: CallContext): Promise<JsaBackup | undefined> {
    const what = `JSA get backup ${item.id}`;
    const res = await this.send('GET', this.backupPath(item), ctx);
    if (res.status === 200) return parseBody(jsaBackupSchema, res, what);
    const err = this.classify(res, what);
    if (err.kind === 'not-found') return undefined;
    throw err;
  }

  async observeDeletion(item: ItemRef, _handle: DeletionHandle, ctx: CallContext): Promise<Observation> {
    const backup = await this.get(item, ctx);
    if (!backup) return { state: 'gone' };
    switch (backup.status) {
      // Deleting a running backup cancels it; until JSA picks that up it may still read as running.
      case 'DELETING':
      case 'CANCELLING':
      case 'INITIALIZING':
      case 'IN_PROGRESS':
        return { state: 'pending', status: backup.status };
      case 'SUCCESS':
      case 'FAILED':
      case 'MISSING':
        // Accepted for deletion, then back in a resting state: JSA dropped or failed the deletion.
        return {
          state: 'failed',
          status: backup.status,
          reason: `JSA accepted the deletion but the backup is ${backup.status} again; it was not deleted`,
          code: backup.status,
        };
      default:
        throw new ProviderError(
          'malformed',
          `JSA get backup ${item.id}: field status: unknown status ${JSON.stringify(backup.status)}`,
          { status: 200 },
        );
    }
  }

  async listBackups(cursor: string | undefined, ctx: CallContext): Promise<ListPage> {
    const start = cursor ? Number(cursor) : 0;
    const what = 'JSA list backups';
    const res = await this.send('GET', '/backup_and_restore/backups', ctx, {
      Range: `items=${start}-${start + JSA_PAGE_SIZE - 1}`,
    });
    if (res.status !== 200) throw this.classify(res, what);
    const backups = parseBody(listSchema, res, what);
    const records = backups.map((b) => this.record(b));

    let total: number | undefined;
    let answered: number | undefined;
    const header = res.headers['content-range'];
    if (header !== undefined) {
      const m = CONTENT_RANGE.exec(header.trim());
      if (!m)
        throw new ProviderError(
          'malformed',
          `${what}: header Content-Range: expected "items <start>-<end>/<total>", got ${JSON.stringify(header)}`,
          { status: 200 },
        );
      total = m[3] === '*' ? undefined : Number(m[3]);
      // An empty range ("items 0--1/0") says nothing about where a page starts.
      if (backups.length > 0) answered = Number(m[1]);
    }
    const page: ListPage = {
      records,
      ...(total !== undefined ? { total } : {}),
      offset: { asked: start, ...(answered !== undefined ? { answered } : {}) },
    };
    const nextStart = start + backups.length;
    const more =
      backups.length > 0 && (total !== undefined ? nextStart < total : backups.length >= JSA_PAGE_SIZE);
    return more ? { ...page, next: String(nextStart) } : page;
  }

  private record(b: z.output<typeof listedBackupSchema>): BackupRecord {
    const initiatedBy = b.intiated_by ?? b.initiated_by ?? undefined;
    const deletable: BackupRecord['deletable'] = (JSA_DELETING as readonly string[]).includes(b.status)
      ? { ok: false, reason: `deletion already under way (${b.status})` }
      : b.status === 'INITIALIZING' || b.status === 'IN_PROGRESS'
        ? // JSA would accept it, but deleting a running backup cancels it: not a retention decision.
          { ok: false, reason: `backup still running (${b.status}); deleting it would cancel it` }
        : (JSA_DELETABLE as readonly string[]).includes(b.status)
          ? { ok: true }
          : { ok: false, reason: `status ${b.status}` };
    const tags: Record<string, string> = { type: b.type };
    if (initiatedBy) tags.initiatedBy = initiatedBy;
    if (b.host_id != null) tags.hostId = String(b.host_id);
    return {
      account: this.accountName,
      provider: 'jsa',
      id: String(b.id),
      backupId: String(b.id),
      ...(b.name ? { name: b.name } : {}),
      createdAt: epochIso(b.time_initiated),
      status: b.status,
      successful: b.status === 'SUCCESS' && b.is_valid !== false,
      ...(b.size_on_disk != null ? { sizeBytes: b.size_on_disk } : {}),
      // CONFIG and DATA backups are separate series (a config backup cannot replace a data backup),
      // and each managed host keeps its own: retention applies per type and host.
      group: `${b.type}:${b.host_id ?? 'console'}`,
      tags,
      deletable,
    };
  }

  /** JSA codes first (404/1001, 422/1017), then the shared HTTP classification. */
  classify(res: HttpResponse, what: string): ProviderError {
    const { code, message } = jsaErrorCode(res);
    const info = { status: res.status, ...(code !== undefined ? { code: String(code) } : {}) };
    const detail =
      [code, message].filter((s) => s !== undefined && s !== '').join(': ') || `HTTP ${res.status}`;
    if (res.status === 404) {
      if (code === JSA_CODE_NOT_FOUND) return new ProviderError('not-found', `${what}: ${detail}`, info);
      // A 404 without code 1001 is the console (or something in front of it) saying the endpoint does
      // not exist: a wrong account endpoint must not turn every item into "absent".
      return misconfiguredEndpoint(res, what, {
        lacking: `code ${JSA_CODE_NOT_FOUND}`,
        account: this.ref,
        ...(info.code ? { code: info.code, detail } : {}),
      });
    }
    if (res.status === 422 && code === JSA_CODE_NOT_DELETABLE) {
      return new ProviderError('in-progress', `${what}: ${detail}`, info);
    }
    if (res.status === 401 || res.status === 403) {
      return new ProviderError(
        'auth',
        `${what}: JSA refused the credentials (HTTP ${res.status} ${detail}); check the account's SEC token or user`,
        info,
      );
    }
    return classifyStatus(res, what, code !== undefined ? String(code) : undefined, message);
  }
}

/** Epoch milliseconds as ISO-8601; anything else verbatim ('' when missing): the planner keeps it. */
function epochIso(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 8.64e15)
    return new Date(v).toISOString();
  return v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

/** The registry's factory: credentials are resolved at call time, so a rotated token file is picked up. */
export function createJsaAdapter(
  name: string,
  account: AccountConfig,
  loaded: LoadedConfig,
  http: HttpClient,
): JsaAdapter {
  const a = account as JsaAccountConfig;
  const creds = a.credentials;
  return new JsaAdapter(name, a, http, () =>
    'token' in creds
      ? { token: loaded.secret(creds.token) }
      : { username: loaded.secret(creds.username), password: loaded.secret(creds.password) },
  );
}

/**
 * Veeam Backup for Microsoft Azure REST API v1 (providers.md §4).
 *
 * Auth: OAuth2 password grant on /api/oauth2/token (form-encoded), Bearer access token (60 min),
 * renewed with the refresh token shortly before it expires and on 401; if the refresh grant is
 * refused, a new password grant. One token per account, shared by every deletion in the process.
 *
 * Delete: POST /api/v1/virtualMachines/{vmId}/deleteBackups (no body) → 200 job session. It is NOT
 * idempotent: every call starts a session. The handle returned here carries the session id; the
 * deletion activity records it in heartbeat details, so a retried attempt observes that session
 * (GET /api/v1/jobSessions/{id}) and never posts again.
 */
import { z } from 'zod';
import type { BackupRecord, ItemRef } from '../../contract/model';
import type { AccountConfig, LoadedConfig } from '../../worker/config';
import { classifyStatus, type HttpClient, type HttpResponse } from '../http';
import { ListingCheck } from '../listing';
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

export type VeeamAccountConfig = Extract<AccountConfig, { provider: 'veeam' }>;

export const VEEAM_NON_TERMINAL = [
  'Pending',
  'Running',
  'RunningWithWarning',
  'RunningWithError',
  'Canceling',
] as const;
/** Warning = deleted, with warnings. */
export const VEEAM_DONE = ['Success', 'Warning'] as const;
export const VEEAM_FAILED = ['Error', 'Canceled', 'NeverExecuted'] as const;
export const VEEAM_STATUSES = [...VEEAM_NON_TERMINAL, ...VEEAM_DONE, ...VEEAM_FAILED] as const;
export const VEEAM_LIST_PAGE = 200;
/** Renew this long before the access token expires (at most a quarter of its lifetime). */
const TOKEN_EARLY_RENEWAL_MS = 5 * 60_000;

const linksSchema = z.record(z.string(), z.object({ href: z.string() }).loose());

const sessionSchema = z.object({
  id: z.string().min(1),
  type: z.string(),
  status: z.enum(VEEAM_STATUSES),
  executionStartTime: z.string().nullish(),
  executionStopTime: z.string().nullish(),
  executionDuration: z.string().nullish(),
  usn: z.number().nullish(),
  _links: linksSchema.nullish(),
});
/**
 * What deleteBackups answers: a session of the deletion job, whatever state it starts in. Only the id
 * is needed to observe it, so only the id is required (Guarantees: "An accepted delete keeps its
 * handle"): a 200 means the appliance started a session, and failing the item on an unexpected `type`
 * would lose the session while it deletes (a re-run would post a second one).
 */
const startedSessionSchema = z.object({ id: z.string().min(1), type: z.unknown(), status: z.unknown() });

/** GET /jobSessions/{id}/log: `{results: [{logTime, status, message}]}` (v1 field names inferred). */
const sessionLogSchema = z.object({
  results: z.array(
    z
      .object({ status: z.string().nullish(), message: z.string().nullish(), title: z.string().nullish() })
      .loose(),
  ),
});

/** GET /jobSessions: a page of sessions; only what identifies ours is required. */
const sessionListSchema = z.object({
  totalCount: z.number().int().nonnegative().nullish(),
  results: z.array(
    z
      .object({
        id: z.string().min(1),
        type: z.string().nullish(),
        executionStartTime: z.string().nullish(),
      })
      .loose(),
  ),
});

/**
 * How far before our "requesting" record a session may have been created and still be ours: the
 * appliance's clock against the worker's. A session of the VM that old is older than our request.
 */
export const VEEAM_SESSION_CLOCK_SKEW_MS = 60_000;
/** A VM id no appliance has: a query for it that answers sessions shows the VmId filter is ignored. */
const NO_SUCH_VM = '00000000-0000-0000-0000-000000000000';

const restorePointSchema = z.object({
  id: z.string().min(1),
  /** Read when it is an ISO time; anything else keeps the VM (see pointInTimeIso). */
  pointInTime: z.string().nullish(),
  backupSizeBytes: z.number().nullish(),
  backupDestination: z.union([z.string(), z.array(z.string())]).nullish(),
  /** Later API versions only. */
  virtualMachineId: z.string().min(1).nullish(),
  _links: linksSchema.nullish(),
});
const restorePointsSchema = z.object({
  offset: z.number().int().nonnegative(),
  limit: z.number().int().nonnegative().nullish(),
  totalCount: z.number().int().nonnegative(),
  results: z.array(restorePointSchema),
});

const tokenSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', { message: 'expected "bearer"' }),
  refresh_token: z.string().min(1).nullish(),
  expires_in: z.number().positive(),
  '.issued': z.string().nullish(),
  '.expires': z.string().nullish(),
});

/** RFC 7807: `{type, title, status, detail, instance}`; all optional by the RFC, at least one present. */
const problemSchema = z
  .object({
    type: z.string().nullish(),
    title: z.string().nullish(),
    status: z.number().nullish(),
    detail: z.string().nullish(),
    instance: z.string().nullish(),
    errorCode: z.string().nullish(),
  })
  .refine((p) => !!(p.title || p.detail || p.type), { message: 'not a problem document' });

export function veeamProblem(
  res: HttpResponse,
): { title?: string; detail?: string; code?: string } | undefined {
  const p = problemSchema.safeParse(res.body);
  if (!p.success) return undefined;
  const code = p.data.errorCode ?? (p.data.type && p.data.type !== 'about:blank' ? p.data.type : undefined);
  return {
    ...(p.data.title ? { title: p.data.title } : {}),
    ...(p.data.detail ? { detail: p.data.detail } : {}),
    ...(code ? { code } : {}),
  };
}

interface CachedToken {
  access: string;
  refresh?: string;
  renewAt: number;
}

/** The account's OAuth2 session: one token per appliance account, shared by all its deletions. */
export class VeeamSession {
  private cached?: CachedToken;
  private inflight?: Promise<CachedToken>;
  readonly base: string;

  /** The account, named in configuration errors (absent in tests that build a bare session). */
  readonly ref?: AccountRef;

  constructor(
    private readonly http: HttpClient,
    account: Pick<VeeamAccountConfig, 'endpoint'>,
    private readonly credentials: () => { username: string; password: string },
    private readonly now: () => number = Date.now,
    accountName?: string,
  ) {
    // The endpoint is the appliance (https://host); tolerate one written with /api or /api/v1.
    this.base = account.endpoint.replace(/\/+$/, '').replace(/\/api(\/v1)?$/, '');
    if (accountName) this.ref = { name: accountName, endpoint: account.endpoint };
  }

  /** Sends an authenticated request; a 401 renews the token once (refresh, else password) and retries. */
  async send(method: 'GET' | 'POST', path: string, ctx: CallContext): Promise<HttpResponse> {
    let rejected: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const token = await this.token(ctx, rejected);
      const res = await this.http.send({
        method,
        url: `${this.base}${path}`,
        headers: { Authorization: `Bearer ${token.access}`, Accept: 'application/json' },
        signal: ctx.signal,
      });
      // A 401 is refused before anything runs, so repeating even the non-idempotent POST is safe.
      if (res.status !== 401 || attempt > 0) return res;
      rejected = token.access;
    }
  }

  /** The cached token unless it is due for renewal or is the one the appliance just refused. */
  private async token(ctx: CallContext, rejected?: string): Promise<CachedToken> {
    const current = this.cached;
    if (current && current.access !== rejected && current.renewAt > this.now()) return current;
    // One token request at a time per account, however many deletions need it.
    this.inflight ??= this.renew(current, ctx).finally(() => (this.inflight = undefined));
    this.cached = await this.inflight;
    return this.cached;
  }

  private async renew(current: CachedToken | undefined, ctx: CallContext): Promise<CachedToken> {
    if (current?.refresh) {
      const refreshed = await this.grant(
        { grant_type: 'Refresh_token', refresh_token: current.refresh },
        ctx,
      );
      if (refreshed.ok) return refreshed.token;
      // Refresh token expired or revoked (or the appliance restarted): log in again.
    }
    const { username, password } = this.credentials();
    const r = await this.grant({ grant_type: 'Password', Username: username, Password: password }, ctx);
    if (r.ok) return r.token;
    if (r.res.status === 404) {
      // Whatever its body, a 404 here means there is no token endpoint at this address; read as the
      // problem document of a missing VM it would make every item "absent".
      throw misconfiguredEndpoint(r.res, 'Veeam token request', {
        lacking: 'a token (no OAuth2 token API at this address)',
        account: this.ref,
      });
    }
    if (r.res.status === 400 || r.res.status === 401 || r.res.status === 403) {
      const why = oauthError(r.res);
      throw new ProviderError(
        'auth',
        `Veeam token request refused the credentials (HTTP ${r.res.status}${why ? ` ${why}` : ''}); check the account's username and password`,
        { status: r.res.status, ...(why ? { code: why.split(':')[0] } : {}) },
      );
    }
    throw classifyVeeam(r.res, 'Veeam token request', this.ref);
  }

  private async grant(
    form: Record<string, string>,
    ctx: CallContext,
  ): Promise<{ ok: true; token: CachedToken } | { ok: false; res: HttpResponse }> {
    const res = await this.http.send({
      method: 'POST',
      url: `${this.base}/api/oauth2/token`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      signal: ctx.signal,
    });
    if (res.status === 200) {
      const t = parseBody(tokenSchema, res, 'Veeam token response');
      const lifetime = t.expires_in * 1000;
      const early = Math.min(TOKEN_EARLY_RENEWAL_MS, lifetime / 4);
      return {
        ok: true,
        token: {
          access: t.access_token,
          ...(t.refresh_token ? { refresh: t.refresh_token } : {}),
          renewAt: this.now() + lifetime - early,
        },
      };
    }
    // Transient answers stay errors (retry the whole call later); refusals fall back / fail above.
    if (res.status === 429 || res.status >= 500) throw classifyVeeam(res, 'Veeam token request', this.ref);
    return { ok: false, res };
  }
}

/** OAuth2 error bodies (RFC 6749 §5.2): `{error, error_description}`. */
function oauthError(res: HttpResponse): string | undefined {
  const p = z.object({ error: z.string(), error_description: z.string().nullish() }).safeParse(res.body);
  if (p.success) return [p.data.error, p.data.error_description].filter(Boolean).join(': ');
  const prob = veeamProblem(res);
  return prob ? [prob.code, prob.title, prob.detail].filter(Boolean).join(': ') : undefined;
}

/**
 * Veeam answers: problem+json errors. 404 with a problem document is "no such VM / session" → not-found;
 * a 404 without one is a wrong endpoint (misconfigured, so a wrong endpoint cannot make every item
 * "absent"). 409 is another operation on the VM → busy. The rest as the shared HTTP classification.
 */
export function classifyVeeam(res: HttpResponse, what: string, account?: AccountRef): ProviderError {
  const problem = veeamProblem(res);
  const message = problem ? [problem.title, problem.detail].filter(Boolean).join(': ') : undefined;
  const info = { status: res.status, ...(problem?.code ? { code: problem.code } : {}) };
  if (res.status === 404) {
    if (problem) return new ProviderError('not-found', `${what}: ${message}`, info);
    return misconfiguredEndpoint(res, what, { lacking: 'a problem document', account });
  }
  if (res.status === 409) return new ProviderError('busy', `${what}: ${message ?? 'conflict'}`, info);
  if (res.status === 401 || res.status === 403) {
    return new ProviderError(
      'auth',
      `${what}: Veeam refused the access token (HTTP ${res.status}${message ? ` ${message}` : ''})`,
      info,
    );
  }
  return classifyStatus(res, what, problem?.code, message);
}

/** `.../virtualMachines/{id}` in a link → the VM id. */
function vmFromLinks(links: Record<string, { href: string }> | null | undefined): string | undefined {
  if (!links) return undefined;
  const ordered = [links.virtualMachine, links.VirtualMachine, ...Object.values(links)];
  for (const l of ordered) {
    const m = l && /\/virtualMachines\/([^/?#]+)/i.exec(l.href);
    if (m) return decodeURIComponent(m[1]!);
  }
  return undefined;
}

export class VeeamAdapter implements ProviderAdapter {
  constructor(
    private readonly accountName: string,
    private readonly session: VeeamSession,
  ) {}

  /**
   * deleteBackups is not idempotent: after a crash mid-request, look at the VM's restore points instead.
   * "Nothing left" is read only from a listing that passes the listing checks (an appliance ignoring
   * Offset would otherwise hide the VM on a page never seen, and the item would read as deleted).
   */
  readonly neverRepeatDelete = {
    stillThere: async (item: ItemRef, ctx: CallContext): Promise<boolean> => {
      const check = new ListingCheck(this.accountName);
      for (let cursor: string | undefined; ;) {
        const page = await this.listBackups(cursor, ctx);
        check.add(page);
        if (page.records.some((r) => r.id === item.id)) return true;
        if (!page.next) break;
        cursor = page.next;
      }
      check.finish();
      return false;
    },
    findStarted: (item: ItemRef, sinceMs: number, ctx: CallContext) => this.findStarted(item, sinceMs, ctx),
  };

  /**
   * Did a deleteBackups of this VM start a session since `sinceMs`? GET /jobSessions filtered by
   * `Types=BackupDeletion`, `VmId` and `FromUtc` (the filters Veeam documents for the collection). The
   * answer is trusted only when the appliance shows it honours the filters: every session it lists is a
   * BackupDeletion, and the same query for a VM id nobody has lists none (v1 session bodies do not
   * name their VM, so a filter it ignored could not be seen otherwise). Without the collection, or with
   * filters ignored, the answer is `unknown` and the caller falls back to the VM's restore points.
   */
  async findStarted(
    item: ItemRef,
    sinceMs: number,
    ctx: CallContext,
  ): Promise<{ started: DeletionHandle } | { none: true } | { unknown: string }> {
    const from = new Date(sinceMs - VEEAM_SESSION_CLOCK_SKEW_MS).toISOString();
    const query = async (vm: string) => {
      const what = `Veeam list BackupDeletion sessions of VM ${vm}`;
      const res = await this.session.send(
        'GET',
        `/api/v1/jobSessions?Types=BackupDeletion&VmId=${encodeURIComponent(vm)}&FromUtc=${encodeURIComponent(from)}&Limit=100`,
        ctx,
      );
      if (res.status === 404 || res.status === 400 || res.status === 405)
        return `the appliance does not list job sessions by VM (HTTP ${res.status})`;
      if (res.status !== 200) throw this.classify(res, what);
      return parseBody(sessionListSchema, res, what).results;
    };
    const ours = await query(item.id);
    if (typeof ours === 'string') return { unknown: ours };
    if (ours.some((s) => s.type != null && s.type !== 'BackupDeletion'))
      return { unknown: 'the appliance ignored the session type filter' };
    const control = await query(NO_SUCH_VM);
    if (typeof control === 'string' || control.length > 0)
      return { unknown: 'the appliance ignored the VM filter of the session list' };
    // Newest first as listed; one deletion per VM at a time (README "Guarantees": One deletion per
    // backup), so the newest is the one our request started.
    const newest = [...ours].sort((a, b) =>
      (b.executionStartTime ?? '\uffff').localeCompare(a.executionStartTime ?? '\uffff'),
    )[0];
    return newest ? { started: { sessionId: newest.id } } : { none: true };
  }

  async requestDeletion(item: ItemRef, ctx: CallContext): Promise<DeletionHandle> {
    const what = `Veeam deleteBackups of VM ${item.id}`;
    const res = await this.session.send(
      'POST',
      `/api/v1/virtualMachines/${encodeURIComponent(item.id)}/deleteBackups`,
      ctx,
    );
    if (res.status === 200 || res.status === 201 || res.status === 202) {
      const s = parseBody(startedSessionSchema, res, what);
      const handle: DeletionHandle = { sessionId: s.id };
      if (s.type !== 'BackupDeletion')
        handle.note = `the appliance answered a session of type ${JSON.stringify(s.type ?? null)}, not BackupDeletion`;
      return handle;
    }
    throw this.classify(res, what);
  }

  async observeDeletion(item: ItemRef, handle: DeletionHandle, ctx: CallContext): Promise<Observation> {
    const sessionId = handle.sessionId;
    if (!sessionId) {
      // Never posted again from here: without the session there is nothing safe to do but say so.
      throw new ProviderError(
        'rejected',
        `Veeam deletion of VM ${item.id}: no job session id recorded; cannot observe the deletion`,
        { code: 'NoSession' },
      );
    }
    const what = `Veeam job session ${sessionId} (VM ${item.id})`;
    const res = await this.session.send('GET', `/api/v1/jobSessions/${encodeURIComponent(sessionId)}`, ctx);
    if (res.status === 404 && veeamProblem(res)) {
      // The session is unknown to the appliance: we cannot tell whether the backups went.
      return {
        state: 'failed',
        status: 'SessionNotFound',
        reason: `${what} is unknown to the appliance; cannot confirm the deletion`,
        code: 'SessionNotFound',
      };
    }
    if (res.status !== 200) throw this.classify(res, what);
    const s = parseBody(sessionSchema, res, what);
    if (s.id !== sessionId) {
      throw new ProviderError(
        'malformed',
        `${what}: field id: expected ${sessionId}, got ${s.id} (HTTP 200)`,
        { status: 200 },
      );
    }
    switch (s.status) {
      case 'Success':
        return { state: 'gone' };
      case 'Warning':
        // Deleted, with warnings: the operator reads them in the item's reason (issue 13 item 3).
        return { state: 'gone', note: await this.logLinesOf(sessionId, 'Warning', /warn/i, ctx) };
      case 'Error':
      case 'Canceled':
      case 'NeverExecuted':
        // Failed: the appliance's own words (the log's Error lines) stay in the reason (issue 13 item 3).
        return {
          state: 'failed',
          status: s.status,
          reason: `backup deletion ${await this.logLinesOf(sessionId, s.status, /error|fail|cancel/i, ctx, s._links?.log?.href)}`,
          code: s.status,
        };
      default:
        return { state: 'pending', status: s.status };
    }
  }

  /**
   * "session X ended <status>: <the log's lines of that status>", for the reason of an item deleted
   * with warnings or failed. The log is a read that may fail or change shape without changing the
   * outcome: then the text says where to look.
   */
  private async logLinesOf(
    sessionId: string,
    ended: string,
    status: RegExp,
    ctx: CallContext,
    href?: string,
  ): Promise<string> {
    const path = `/api/v1/jobSessions/${encodeURIComponent(sessionId)}/log`;
    const fallback = `session ${sessionId} ended ${ended}; see its log (${href ?? path})`;
    try {
      let res = await this.session.send('GET', path, ctx);
      // A transient answer is asked again twice; the outcome does not wait longer than that for it.
      for (let tries = 1; tries < 3 && (res.status === 429 || res.status >= 500); tries++)
        res = await this.session.send('GET', path, ctx);
      if (res.status !== 200) return fallback;
      const log = sessionLogSchema.safeParse(res.body);
      if (!log.success) return fallback;
      const lines = log.data.results
        .filter((l) => status.test(l.status ?? ''))
        .map((l) => l.message ?? l.title ?? '')
        .filter(Boolean);
      // A failed session's reason keeps pointing at its whole log (href), beside the lines quoted.
      const see = href ? `; see ${href}` : '';
      return lines.length ? `session ${sessionId} ended ${ended}: ${lines.join('; ')}${see}` : fallback;
    } catch (err) {
      if (err instanceof ProviderError) return fallback;
      throw err;
    }
  }

  /**
   * One page of restore points. v1 results carry no VM id: it is read from `virtualMachineId` (later
   * versions) or from a `_links` href to `/virtualMachines/{id}`; a point with neither is malformed,
   * since its VM (the deletion item) would be unknown.
   */
  async listBackups(cursor: string | undefined, ctx: CallContext): Promise<ListPage> {
    const offset = cursor ? Number(cursor) : 0;
    const what = 'Veeam list restore points';
    const res = await this.session.send(
      'GET',
      `/api/v1/restorePoints?Offset=${offset}&Limit=${VEEAM_LIST_PAGE}`,
      ctx,
    );
    if (res.status !== 200) throw this.classify(res, what);
    const body = parseBody(restorePointsSchema, res, what);
    const records = body.results.map((p, i): BackupRecord => {
      const vm = p.virtualMachineId ?? vmFromLinks(p._links);
      if (!vm) {
        throw new ProviderError(
          'malformed',
          `${what}: field results[${i}].virtualMachineId: absent, and no _links entry names the VM of restore point ${p.id}`,
          { status: 200 },
        );
      }
      const dest = Array.isArray(p.backupDestination) ? p.backupDestination.join(',') : p.backupDestination;
      return {
        account: this.accountName,
        provider: 'veeam',
        id: vm,
        backupId: p.id,
        createdAt: pointInTimeIso(p.pointInTime),
        // Veeam lists only restore points it created; there is no per-point status in v1.
        status: 'available',
        successful: true,
        ...(p.backupSizeBytes != null ? { sizeBytes: p.backupSizeBytes } : {}),
        group: vm,
        ...(dest ? { tags: { backupDestination: dest } } : {}),
        deletable: { ok: true },
      };
    });
    // v1 may ignore Offset/Limit and answer everything from offset 0 (one page, nothing next). One that
    // honours Limit but not Offset answers offset 0 again for page 2: the listing loop refuses that
    // (activities/listing.ts) instead of ending early while totalCount says more exist.
    const next = offset + body.results.length;
    const page: ListPage = {
      records,
      total: body.totalCount,
      offset: { asked: offset, answered: body.offset },
    };
    return body.results.length > 0 && next < body.totalCount ? { ...page, next: String(next) } : page;
  }

  classify(res: HttpResponse, what: string): ProviderError {
    return classifyVeeam(res, what, this.session.ref);
  }
}

/**
 * A restore point's time as ISO-8601 UTC; an unreadable one verbatim (the planner keeps the VM,
 * "creation time unknown"). Only ISO-shaped times with a zone: Date.parse alone reads strings like
 * "1" or a zone-less time (as local time) too.
 */
function pointInTimeIso(t: string | null | undefined): string {
  if (!t) return '';
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/i.test(t)) return t;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? t : new Date(ms).toISOString();
}

/** The registry's factory: credentials are resolved at each login, so rotated secrets are picked up. */
export function createVeeamAdapter(
  name: string,
  account: AccountConfig,
  loaded: LoadedConfig,
  http: HttpClient,
): VeeamAdapter {
  const a = account as VeeamAccountConfig;
  const session = new VeeamSession(
    http,
    a,
    () => ({
      username: loaded.secret(a.credentials.username),
      password: loaded.secret(a.credentials.password),
    }),
    Date.now,
    name,
  );
  return new VeeamAdapter(name, session);
}

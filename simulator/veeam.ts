/**
 * Veeam Backup for Microsoft Azure REST API v1 simulator, per providers.md §4.
 * Paths below the `/veeam` prefix: `/{appliance}/api/oauth2/token`, `/{appliance}/api/v1/...`; state per
 * appliance.
 *
 * - Token: form-encoded `grant_type=Password&Username&Password` or `grant_type=Refresh_token&
 *   refresh_token` → `{access_token, token_type, refresh_token, expires_in, .issued, .expires}`. Access
 *   tokens live ctx.timings.veeamTokenTtlMs; refresh tokens 14 days and rotate on use. counters.
 *   tokensIssued `veeam:{appliance}:{grant}`. Any non-empty user is accepted unless `users` is set.
 * - POST /api/v1/virtualMachines/{vmId}/deleteBackups: NOT idempotent. Every call on a known VM starts a
 *   new BackupDeletion session (counters.sessionsPerVm `veeam:{appliance}:{vmId}` +1, deleteCalls +1):
 *   Pending for `sim.pendingMs`, running for deleteMs('veeam'), then `sim.outcome` (default Success).
 *   Success / Warning remove all the VM's restore points; Error / Canceled / NeverExecuted keep them.
 *   An unknown VM → 404 problem+json. A known VM without restore points still gets a session.
 * - GET /api/v1/jobSessions/{id} (+ /log), GET /api/v1/restorePoints. Per appliance, `configure()`
 *   plays v1 (no `virtualMachineId`, paging ignored; `_links.virtualMachine` names the VM unless
 *   `vmLinks: false`) or a later version (`virtualMachineId`, `Offset`/`Limit`/`VirtualMachineId`).
 *   `ignoreOffset: true` plays an appliance that honours `Limit` but ignores `Offset`: every page is
 *   page 1, answered with `offset: 0`. `order: 'oldest-first'` lists restore points oldest first
 *   (default newest first). Set through `configure()`, `PUT /_admin/modes`, or a seed entry without
 *   an id that carries them in `sim`.
 * - GET /api/v1/jobSessions: the session collection `{offset, limit, totalCount, results}`, newest
 *   first, with the filters Veeam documents for it (helpcenter.veeam.com, "Get Collection of Sessions"):
 *   `Types` (e.g. BackupDeletion), `VmId` (sessions that processed that VM), `FromUtc` / `ToUtc` (sessions
 *   created in that interval), `Status`, `Offset`, `Limit`. `sessionsCollection: false` plays an
 *   appliance without it (404 problem), `sessionsFilter: 'ignored'` one that answers every session
 *   unfiltered (the client must not read a session of another VM as its own).
 * - Errors: application/problem+json (RFC 7807 shape).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SimContext } from './context';
import { json, match, type SimRequest, type SimResponse } from './http-kit';
import type { ProviderSim } from './provider-sim';

export type VeeamOutcome = 'Success' | 'Warning' | 'Error' | 'Canceled' | 'NeverExecuted';

export interface VeeamRestorePoint {
  id: string;
  /** ISO time. */
  pointInTime: string;
  backupSizeBytes?: number;
  backupDestination?: string;
}

/** Seed shape: a protected VM and its restore points. */
export interface VeeamVm {
  id: string;
  name?: string;
  restorePoints?: VeeamRestorePoint[];
  /** Simulation switches, not part of the API. */
  sim?: {
    /** How every deletion session of this VM ends (default Success). */
    outcome?: VeeamOutcome;
    /** How long a new session stays Pending before it runs (default 0). */
    pendingMs?: number;
    /** The session log's warning line when `outcome` is Warning. */
    warning?: string;
    /** The session log's error line when `outcome` is Error. */
    error?: string;
  };
}

export interface VeeamApplianceOptions {
  /** v1: results without virtualMachineId and paging ignored; later: both added. */
  version: 'v1' | 'later';
  /** Whether a v1 restore point's `_links` names its VM (`virtualMachine`). */
  vmLinks: boolean;
  /** Limit honoured, Offset ignored: every page is the first, answered with offset 0. */
  ignoreOffset?: boolean;
  /** Order of restore points in the listing (default newest-first). */
  order?: 'newest-first' | 'oldest-first';
  /** false: GET /jobSessions (the collection) answers 404 problem, as on an appliance without it. */
  sessionsCollection?: boolean;
  /** 'ignored': the collection answers every session, whatever the filters asked. */
  sessionsFilter?: 'honoured' | 'ignored';
}

interface Session {
  id: string;
  vmId: string;
  createdAt: number;
  startAt: number;
  doneAt: number;
  outcome: VeeamOutcome;
  applied: boolean;
  usn: number;
  warning?: string;
  error?: string;
}

interface Grant {
  user: string;
  expiresAt: number;
}

interface Appliance {
  vms: Map<string, Required<Pick<VeeamVm, 'id' | 'restorePoints'>> & VeeamVm>;
  sessions: Map<string, Session>;
  accessTokens: Map<string, Grant>;
  refreshTokens: Map<string, Grant>;
  options: VeeamApplianceOptions;
  usn: number;
}

export interface VeeamTokenRequest {
  appliance: string;
  contentType?: string;
  grantType?: string;
  outcome: number;
}

const REFRESH_TTL_MS = 14 * 24 * 3_600_000;

export function problem(
  status: number,
  title: string,
  detail: string,
  headers: Record<string, string> = {},
): SimResponse {
  return json(
    status,
    { type: 'about:blank', title, status, detail },
    { 'content-type': 'application/problem+json', ...headers },
  );
}

export class VeeamSim implements ProviderSim {
  readonly name = 'veeam';
  private readonly appliances = new Map<string, Appliance>();
  /** When set, the password grant only accepts these username → password pairs. */
  users?: Record<string, string>;
  /** Token requests as received (content type, grant type), newest last. */
  readonly tokenRequests: VeeamTokenRequest[] = [];
  /** `{appliance}:{vmId}` → GET /jobSessions/{id} requests for that VM's sessions. */
  readonly sessionPolls = new Map<string, number>();

  constructor(private readonly ctx: SimContext) {}

  configure(appliance: string, options: Partial<VeeamApplianceOptions>): void {
    const a = this.appliance(appliance);
    a.options = { ...a.options, ...options };
  }

  seed(scope: string, entries: unknown[]): number {
    const a = this.appliance(scope);
    let n = 0;
    for (const vm of entries as Array<VeeamVm & { sim?: Partial<VeeamApplianceOptions> }>) {
      if (!vm.id) {
        this.configure(scope, vm.sim ?? {});
        continue;
      }
      a.vms.set(vm.id, { ...vm, restorePoints: [...(vm.restorePoints ?? [])] });
      n++;
    }
    return n;
  }

  /** The VMs and their remaining restore points. */
  list(scope: string): unknown[] {
    const a = this.appliance(scope);
    this.settle(a);
    return [...a.vms.values()].map((vm) => ({ id: vm.id, name: vm.name, restorePoints: vm.restorePoints }));
  }

  /** Sessions of an appliance (for tests), with their current status. */
  sessions(scope: string): Array<{ id: string; vmId: string; status: string }> {
    const a = this.appliance(scope);
    this.settle(a);
    return [...a.sessions.values()].map((s) => ({ id: s.id, vmId: s.vmId, status: this.status(s) }));
  }

  /** Access tokens stop working at once (401); refresh tokens still do. */
  revokeAccessTokens(scope: string): void {
    this.appliance(scope).accessTokens.clear();
  }

  /** Everything revoked: only the password grant works again. */
  revokeAllTokens(scope: string): void {
    const a = this.appliance(scope);
    a.accessTokens.clear();
    a.refreshTokens.clear();
  }

  reset(): void {
    this.appliances.clear();
    this.tokenRequests.length = 0;
    this.sessionPolls.clear();
    this.users = undefined;
  }

  private appliance(scope: string): Appliance {
    let a = this.appliances.get(scope);
    if (!a) {
      a = {
        vms: new Map(),
        sessions: new Map(),
        accessTokens: new Map(),
        refreshTokens: new Map(),
        options: { version: 'v1', vmLinks: true },
        usn: 0,
      };
      this.appliances.set(scope, a);
    }
    return a;
  }

  /** Applies the passage of time: finished sessions take effect once. */
  private settle(a: Appliance): void {
    const now = this.ctx.now();
    for (const s of a.sessions.values()) {
      if (s.applied || s.doneAt > now) continue;
      s.applied = true;
      s.usn = ++a.usn;
      if (s.outcome === 'Success' || s.outcome === 'Warning') {
        const vm = a.vms.get(s.vmId);
        if (vm) vm.restorePoints = [];
      }
    }
  }

  private status(s: Session): string {
    const now = this.ctx.now();
    if (now >= s.doneAt) return s.outcome;
    if (now < s.startAt || s.outcome === 'NeverExecuted') return 'Pending';
    switch (s.outcome) {
      case 'Warning':
        return 'RunningWithWarning';
      case 'Error':
        return 'RunningWithError';
      case 'Canceled':
        return 'Canceling';
      default:
        return 'Running';
    }
  }

  handle(req: SimRequest): SimResponse {
    const scope = req.path.split('/')[1] ?? '';
    const a = this.appliance(scope);
    this.settle(a);
    const base = `http://${req.headers.host ?? 'veeam'}/veeam/${scope}/api/v1`;
    let m: Record<string, string> | undefined;
    if (match('/:a/api/oauth2/token', req.path) && req.method === 'POST') return this.token(req, scope, a);
    const denied = this.authenticate(req, a);
    if (denied) return denied;
    if ((m = match('/:a/api/v1/virtualMachines/:vm/deleteBackups', req.path)) && req.method === 'POST') {
      return this.deleteBackups(scope, a, m.vm!, base);
    }
    if (match('/:a/api/v1/jobSessions', req.path) && req.method === 'GET')
      return this.listSessions(req, a, base);
    if ((m = match('/:a/api/v1/jobSessions/:id', req.path)) && req.method === 'GET')
      return this.showSession(scope, a, m.id!, base);
    if ((m = match('/:a/api/v1/jobSessions/:id/log', req.path)) && req.method === 'GET')
      return this.sessionLog(a, m.id!);
    if (match('/:a/api/v1/restorePoints', req.path) && req.method === 'GET')
      return this.restorePoints(req, a, base);
    return problem(404, 'Not Found', `No resource matches ${req.method} ${req.path.slice(scope.length + 1)}`);
  }

  private token(req: SimRequest, scope: string, a: Appliance): SimResponse {
    const contentType = String(req.headers['content-type'] ?? '');
    const form = new URLSearchParams(req.body);
    const grantType = form.get('grant_type') ?? undefined;
    const answer = (r: SimResponse): SimResponse => {
      this.tokenRequests.push({
        appliance: scope,
        contentType,
        ...(grantType !== undefined ? { grantType } : {}),
        outcome: r.status,
      });
      return r;
    };
    if (!/^application\/x-www-form-urlencoded/i.test(contentType)) {
      return answer(
        problem(400, 'Bad Request', 'The token request must be application/x-www-form-urlencoded.'),
      );
    }
    const now = this.ctx.now();
    let user: string;
    if (grantType === 'Password') {
      const username = form.get('Username') ?? '';
      const password = form.get('Password') ?? '';
      if (!username || !password)
        return answer(problem(400, 'Bad Request', 'Username and Password are required.'));
      if (this.users !== undefined && this.users[username] !== password) {
        return answer(problem(401, 'Unauthorized', 'The user name or password is incorrect.'));
      }
      user = username;
    } else if (grantType === 'Refresh_token') {
      const refresh = form.get('refresh_token') ?? '';
      const g = a.refreshTokens.get(refresh);
      if (!g || g.expiresAt <= now)
        return answer(problem(400, 'Bad Request', 'The refresh token is invalid or expired.'));
      a.refreshTokens.delete(refresh); // rotated: a refresh token works once
      user = g.user;
    } else {
      return answer(
        problem(
          400,
          'Bad Request',
          `Unsupported grant_type ${JSON.stringify(grantType ?? '')}: use Password or Refresh_token.`,
        ),
      );
    }
    const ttl = this.ctx.timings.veeamTokenTtlMs;
    const access = `vba-at-${randomBytes(24).toString('hex')}`;
    const refresh = `vba-rt-${randomBytes(24).toString('hex')}`;
    a.accessTokens.set(access, { user, expiresAt: now + ttl });
    a.refreshTokens.set(refresh, { user, expiresAt: now + REFRESH_TTL_MS });
    this.ctx.counters.bump(this.ctx.counters.tokensIssued, `veeam:${scope}:${grantType}`);
    return answer(
      json(200, {
        access_token: access,
        token_type: 'bearer',
        refresh_token: refresh,
        expires_in: Math.max(1, Math.ceil(ttl / 1000)),
        '.issued': new Date(now).toUTCString(),
        '.expires': new Date(now + ttl).toUTCString(),
      }),
    );
  }

  private authenticate(req: SimRequest, a: Appliance): SimResponse | undefined {
    const authz = req.headers.authorization;
    const token = typeof authz === 'string' && /^Bearer /i.test(authz) ? authz.slice(7).trim() : undefined;
    const g = token ? a.accessTokens.get(token) : undefined;
    if (!g || g.expiresAt <= this.ctx.now()) {
      return problem(
        401,
        'Unauthorized',
        token
          ? 'The access token is invalid or has expired.'
          : 'Authorization: Bearer <access_token> is required.',
        {
          'WWW-Authenticate': 'Bearer',
        },
      );
    }
    return undefined;
  }

  private deleteBackups(scope: string, a: Appliance, vmId: string, base: string): SimResponse {
    const key = `veeam:${scope}:${vmId}`;
    this.ctx.counters.bump(this.ctx.counters.deleteCalls, key);
    const vm = a.vms.get(vmId);
    if (!vm) {
      this.ctx.counters.deleteRequest(key, 'notFound');
      return problem(404, 'Not Found', `Virtual machine ${vmId} was not found.`);
    }
    const now = this.ctx.now();
    const startAt = now + (vm.sim?.pendingMs ?? 0);
    const s: Session = {
      id: randomUUID(),
      vmId,
      createdAt: now,
      startAt,
      doneAt: startAt + this.ctx.deleteMs('veeam'),
      outcome: vm.sim?.outcome ?? 'Success',
      applied: false,
      usn: ++a.usn,
      ...(vm.sim?.warning ? { warning: vm.sim.warning } : {}),
      ...(vm.sim?.error ? { error: vm.sim.error } : {}),
    };
    a.sessions.set(s.id, s);
    this.ctx.counters.bump(this.ctx.counters.sessionsPerVm, key);
    this.ctx.counters.bump(this.ctx.counters.acceptedDeletes, key);
    // Every POST starts a new session: a second one is accepted again, and counts as a repeat.
    this.ctx.counters.deleteRequest(key, 'accepted');
    this.ctx.counters.deletionInProgress(`veeam:${scope}`, now, s.doneAt);
    return json(200, this.sessionView(s, base));
  }

  private showSession(scope: string, a: Appliance, id: string, base: string): SimResponse {
    const s = a.sessions.get(id);
    if (!s) return problem(404, 'Not Found', `Job session ${id} was not found.`);
    this.ctx.counters.bump(this.sessionPolls, `${scope}:${s.vmId}`);
    return json(200, this.sessionView(s, base));
  }

  /** GET /jobSessions: what a client asks after a crash left it unknown whether its POST went out. */
  private listSessions(req: SimRequest, a: Appliance, base: string): SimResponse {
    if (a.options.sessionsCollection === false)
      return problem(404, 'Not Found', `No resource matches GET /api/v1/jobSessions`);
    const q = (name: string) => req.query.get(name) ?? req.query.get(name.toLowerCase()) ?? undefined;
    const filtered = a.options.sessionsFilter !== 'ignored';
    const types = q('Types');
    const vmId = q('VmId');
    const from = q('FromUtc') ? Date.parse(q('FromUtc')!) : undefined;
    const to = q('ToUtc') ? Date.parse(q('ToUtc')!) : undefined;
    const status = q('Status');
    if ((from !== undefined && Number.isNaN(from)) || (to !== undefined && Number.isNaN(to)))
      return problem(400, 'Bad Request', 'FromUtc / ToUtc must be date-time values.');
    const all = [...a.sessions.values()]
      .filter(
        (s) =>
          !filtered ||
          ((!types || types.split(',').includes('BackupDeletion')) &&
            (!vmId || s.vmId === vmId) &&
            (from === undefined || s.createdAt >= from) &&
            (to === undefined || s.createdAt <= to) &&
            (!status || status.split(',').includes(this.status(s)))),
      )
      .sort((x, y) => y.createdAt - x.createdAt);
    const offset = Math.max(0, Number(q('Offset') ?? 0) || 0);
    const limit = Math.max(1, Number(q('Limit') ?? 100) || 100);
    const page = all.slice(offset, offset + limit);
    return json(200, {
      offset,
      limit,
      totalCount: all.length,
      results: page.map((s) => this.sessionView(s, base)),
    });
  }

  private sessionLog(a: Appliance, id: string): SimResponse {
    const s = a.sessions.get(id);
    if (!s) return problem(404, 'Not Found', `Job session ${id} was not found.`);
    const status = this.status(s);
    const results = [
      {
        logTime: new Date(s.createdAt).toISOString(),
        status: 'Success',
        message: `Deleting backups of virtual machine ${s.vmId}`,
      },
    ];
    if (status === 'Warning')
      results.push({
        logTime: new Date(s.doneAt).toISOString(),
        status: 'Warning',
        message:
          s.warning ??
          `Backup files of virtual machine ${s.vmId} were removed; the repository index was not updated`,
      });
    if (status === 'Error')
      results.push({
        logTime: new Date(s.doneAt).toISOString(),
        status: 'Error',
        message:
          s.error ??
          `Failed to delete backup files of virtual machine ${s.vmId}: the repository did not accept the request`,
      });
    if (status === s.outcome)
      results.push({
        logTime: new Date(s.doneAt).toISOString(),
        status: s.outcome,
        message: `Backup deletion finished: ${s.outcome}`,
      });
    return json(200, { offset: 0, limit: results.length, totalCount: results.length, results });
  }

  private sessionView(s: Session, base: string): Record<string, unknown> {
    const now = this.ctx.now();
    const started = now >= s.startAt && s.outcome !== 'NeverExecuted';
    const stopped = now >= s.doneAt;
    const duration = started ? Math.min(now, s.doneAt) - s.startAt : 0;
    return {
      id: s.id,
      type: 'BackupDeletion',
      executionStartTime: started ? new Date(s.startAt).toISOString() : null,
      executionStopTime: stopped ? new Date(s.doneAt).toISOString() : null,
      executionDuration: timeSpan(duration),
      status: this.status(s),
      usn: s.usn,
      _links: {
        self: { href: `${base}/jobSessions/${s.id}` },
        log: { href: `${base}/jobSessions/${s.id}/log` },
      },
    };
  }

  private restorePoints(req: SimRequest, a: Appliance, base: string): SimResponse {
    const later = a.options.version === 'later';
    const q = (name: string) => req.query.get(name) ?? req.query.get(name.toLowerCase()) ?? undefined;
    const vmFilter = later ? q('VirtualMachineId') : undefined;
    const all = [...a.vms.values()]
      .filter((vm) => !vmFilter || vm.id === vmFilter)
      .flatMap((vm) => vm.restorePoints.map((p) => ({ vm, p })))
      .sort((x, y) => y.p.pointInTime.localeCompare(x.p.pointInTime) || x.p.id.localeCompare(y.p.id));
    if (a.options.order === 'oldest-first') all.reverse();
    const { ignoreOffset } = a.options;
    const offset = later && !ignoreOffset ? Math.max(0, Number(q('Offset') ?? 0) || 0) : 0;
    const limit = later || ignoreOffset ? Math.max(1, Number(q('Limit') ?? 200) || 200) : all.length;
    const page = all.slice(offset, offset + limit);
    return json(200, {
      offset,
      limit,
      totalCount: all.length,
      results: page.map(({ vm, p }) => ({
        id: p.id,
        pointInTime: p.pointInTime,
        backupSizeBytes: p.backupSizeBytes ?? 0,
        backupDestination: p.backupDestination ?? 'AzureBlob',
        ...(later ? { virtualMachineId: vm.id } : {}),
        _links: {
          self: { href: `${base}/restorePoints/${p.id}` },
          ...(later || a.options.vmLinks
            ? { virtualMachine: { href: `${base}/virtualMachines/${vm.id}` } }
            : {}),
        },
      })),
    });
  }
}

/** .NET TimeSpan text, e.g. "00:00:08.2500000". */
function timeSpan(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}.${String(ms % 1000).padStart(3, '0')}0000`;
}

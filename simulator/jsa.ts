/**
 * Juniper Secure Analytics (QRadar API 16.0) backup-and-restore simulator, per providers.md §1.
 * Paths below the `/jsa` prefix: `/{console}/api/backup_and_restore/backups[/{id}]`; state per console.
 *
 * - DELETE from SUCCESS / FAILED / MISSING → 202 + the backup, now DELETING for deleteMs('jsa'), then
 *   gone (404 code 1001). From INITIALIZING / IN_PROGRESS it cancels: CANCELLING, then gone.
 * - DELETE while DELETING / CANCELLING → 422 code 1017 (the inferred reading; per console the other
 *   reading, 202 again, can be played with `configure(console, { repeatDelete: '202' })`).
 * - Auth: `SEC: <token>` or HTTP Basic. Any non-empty token / user is accepted unless `expectedToken`
 *   / `users` is set (as SimContext.huaweiUsers does for IAM). `Version` may be omitted (newest); the
 *   value seen is recorded in `seen` and in counters.requests (`jsa:{console} Version {value}`).
 * - List: `Range: items=a-b` → `Content-Range: items a-b/total`; without Range everything. `fields`
 *   selects top-level fields; `filter` and `sort` are not simulated (id order).
 */
import type { SimContext } from './context';
import { json, match, type SimRequest, type SimResponse } from './http-kit';
import type { ProviderSim } from './provider-sim';

export type JsaStatus =
  'INITIALIZING' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | 'MISSING' | 'CANCELLING' | 'DELETING';

/** A backup in the API's own shape (seed input may omit everything but `id`). */
export interface JsaBackup {
  id: number;
  name?: string;
  type?: 'CONFIG' | 'DATA';
  status?: JsaStatus | string;
  host_id?: number;
  build_version?: string;
  configuration_id?: number;
  content_file_path?: string;
  description?: string;
  /** The 16.0 spelling. Seed `initiated_by` instead to play the corrected spelling. */
  intiated_by?: string;
  initiated_by?: string;
  is_valid?: boolean;
  is_version_compatible?: boolean;
  size_on_disk?: number;
  time_initiated?: number;
  time_completed?: number | null;
  version?: string;
  /** Simulation switches, not part of the API. */
  sim?: {
    /** The deletion fails at the end: the backup turns FAILED instead of disappearing. */
    failDelete?: boolean;
    /** Seeded DELETING / CANCELLING: how long until it is gone (default deleteMs('jsa')). */
    deletingForMs?: number;
  };
}

export interface JsaConsoleOptions {
  /** How a repeated DELETE while DELETING / CANCELLING is answered (providers.md: inferred 422/1017). */
  repeatDelete: '422' | '202';
}

interface Stored extends JsaBackup {
  status: string;
  doneAt?: number;
}

interface Console {
  backups: Map<number, Stored>;
  options: JsaConsoleOptions;
}

export interface JsaSeenRequest {
  console: string;
  method: string;
  path: string;
  version?: string;
  accept?: string;
  auth: 'SEC' | 'Basic' | 'none';
  range?: string;
}

const DELETABLE = new Set(['INITIALIZING', 'IN_PROGRESS', 'FAILED', 'SUCCESS', 'MISSING']);
const RUNNING = new Set(['INITIALIZING', 'IN_PROGRESS']);
const DELETING = new Set(['DELETING', 'CANCELLING']);
const SEEN_LIMIT = 2_000;

const HTTP_MESSAGES: Record<number, string> = {
  401: 'You are unauthorized to access the requested resource.',
  404: 'We could not find the resource you requested.',
  422: 'The request was well-formed but was unable to be followed due to semantic errors.',
};

/** `{message, details, description, code, http_response: {message, code}}`. */
export function jsaError(status: number, code: number, message: string, description = ''): SimResponse {
  return json(status, {
    http_response: { code: status, message: HTTP_MESSAGES[status] ?? 'Error' },
    code,
    message,
    description,
    details: {},
  });
}

export class JsaSim implements ProviderSim {
  readonly name = 'jsa';
  private readonly consoles = new Map<string, Console>();
  /** When set, only this SEC token is accepted. */
  expectedToken?: string;
  /** When set, HTTP Basic only accepts these username → password pairs. */
  users?: Record<string, string>;
  /** Recent requests (what headers the adapter sent), newest last. */
  readonly seen: JsaSeenRequest[] = [];

  constructor(private readonly ctx: SimContext) {}

  configure(console: string, options: Partial<JsaConsoleOptions>): void {
    const c = this.console(console);
    c.options = { ...c.options, ...options };
  }

  seed(scope: string, backups: unknown[]): number {
    const c = this.console(scope);
    const now = this.ctx.now();
    for (const raw of backups as JsaBackup[]) {
      const type = raw.type ?? 'CONFIG';
      const initiated = raw.time_initiated ?? now - 3_600_000;
      const status = raw.status ?? 'SUCCESS';
      const b: Stored = {
        build_version: '7.5.0.20240101000000',
        configuration_id: 1,
        content_file_path: `/store/backup/backup.${type.toLowerCase()}.${raw.id}.tgz`,
        description: '',
        host_id: 53,
        is_valid: true,
        is_version_compatible: true,
        name: `${type.toLowerCase()}-backup-${raw.id}`,
        size_on_disk: 104_857_600,
        time_initiated: initiated,
        time_completed: RUNNING.has(status) ? null : initiated + 60_000,
        type,
        version: '7.5.0',
        ...(raw.initiated_by === undefined ? { intiated_by: 'admin' } : {}),
        ...raw,
        status,
      };
      // Seeded mid-deletion (someone else's delete): it ends deleteMs('jsa') from now.
      if (DELETING.has(status)) b.doneAt = now + (raw.sim?.deletingForMs ?? this.ctx.deleteMs('jsa'));
      c.backups.set(raw.id, b);
    }
    return backups.length;
  }

  list(scope: string): unknown[] {
    const c = this.console(scope);
    return [...c.backups.values()].filter((b) => this.settle(c, b)).map(publicView);
  }

  reset(): void {
    this.consoles.clear();
    this.seen.length = 0;
    this.expectedToken = undefined;
    this.users = undefined;
  }

  private console(scope: string): Console {
    let c = this.consoles.get(scope);
    if (!c) this.consoles.set(scope, (c = { backups: new Map(), options: { repeatDelete: '422' } }));
    return c;
  }

  /** Applies the passage of time: a finished deletion or cancellation removes the backup. */
  private settle(c: Console, b: Stored): boolean {
    if (DELETING.has(b.status) && b.doneAt !== undefined && b.doneAt <= this.ctx.now()) {
      if (b.status === 'DELETING' && b.sim?.failDelete) {
        b.status = 'FAILED';
        b.doneAt = undefined;
        return true;
      }
      c.backups.delete(b.id);
      return false;
    }
    return true;
  }

  handle(req: SimRequest): SimResponse {
    const scope = req.path.split('/')[1] ?? '';
    this.record(scope, req);
    const denied = this.authenticate(req);
    if (denied) return denied;
    let m: Record<string, string> | undefined;
    if ((m = match('/:console/api/backup_and_restore/backups', req.path)) && req.method === 'GET') {
      return this.listBackups(req, m.console!);
    }
    if ((m = match('/:console/api/backup_and_restore/backups/:id', req.path)) && /^\d+$/.test(m.id!)) {
      const id = Number(m.id);
      if (req.method === 'DELETE') return this.remove(req, m.console!, id);
      if (req.method === 'GET') return this.show(req, m.console!, id);
    }
    // Any code but 1001: an unknown endpoint is not "no such backup".
    return jsaError(
      404,
      1002,
      `Endpoint ${req.method} ${req.path.slice(scope.length + 1)} does not exist`,
      'Unknown endpoint',
    );
  }

  private record(console: string, req: SimRequest): void {
    const header = (n: string) => {
      const v = req.headers[n];
      return Array.isArray(v) ? v.join(', ') : v;
    };
    const version = header('version');
    const sec = header('sec');
    const authz = header('authorization');
    this.ctx.counters.bump(this.ctx.counters.requests, `jsa:${console} Version ${version ?? '(none)'}`);
    this.seen.push({
      console,
      method: req.method,
      path: req.path.slice(console.length + 1),
      ...(version !== undefined ? { version } : {}),
      ...(header('accept') !== undefined ? { accept: header('accept') } : {}),
      auth: sec !== undefined ? 'SEC' : authz?.startsWith('Basic ') ? 'Basic' : 'none',
      ...(header('range') !== undefined ? { range: header('range') } : {}),
    });
    if (this.seen.length > SEEN_LIMIT) this.seen.splice(0, this.seen.length - SEEN_LIMIT);
  }

  private authenticate(req: SimRequest): SimResponse | undefined {
    const sec = req.headers['sec'];
    if (typeof sec === 'string') {
      if (!sec || (this.expectedToken !== undefined && sec !== this.expectedToken)) {
        return jsaError(
          401,
          12,
          'Invalid SEC header. The authorized service token is not valid or has expired.',
        );
      }
      return undefined;
    }
    const authz = req.headers.authorization;
    if (typeof authz === 'string' && authz.startsWith('Basic ')) {
      const decoded = Buffer.from(authz.slice(6), 'base64').toString('utf8');
      const at = decoded.indexOf(':');
      const user = at < 0 ? '' : decoded.slice(0, at);
      const password = at < 0 ? '' : decoded.slice(at + 1);
      if (!user || !password || (this.users !== undefined && this.users[user] !== password)) {
        return jsaError(401, 12, 'Invalid username or password.');
      }
      return undefined;
    }
    return jsaError(401, 12, 'No SEC header present in request. Please provide it and try again.');
  }

  private get(c: Console, id: number): Stored | undefined {
    const b = c.backups.get(id);
    return b && this.settle(c, b) ? b : undefined;
  }

  private notFound(id: number): SimResponse {
    return jsaError(404, 1001, `No backup was found with the given id ${id}.`, 'The backup does not exist.');
  }

  private remove(req: SimRequest, console: string, id: number): SimResponse {
    const key = `jsa:${console}:${id}`;
    this.ctx.counters.bump(this.ctx.counters.deleteCalls, key);
    const count = this.ctx.counters.deleteRequest.bind(this.ctx.counters, key);
    const c = this.console(console);
    const b = this.get(c, id);
    if (!b) {
      count('notFound');
      return this.notFound(id);
    }
    if (DELETING.has(b.status) && c.options.repeatDelete === '202') {
      // Answered like an acceptance, but nothing new starts: the deletion already runs.
      count('busy');
      return json(202, fields(req, publicView(b)));
    }
    if (!DELETABLE.has(b.status)) {
      count('busy'); // only DELETING / CANCELLING are not deletable
      return jsaError(
        422,
        1017,
        'A backup can only be deleted when its status is INITIALIZING, IN_PROGRESS, FAILED, SUCCESS or MISSING.',
        `The backup is ${b.status}.`,
      );
    }
    const now = this.ctx.now();
    b.status = RUNNING.has(b.status) ? 'CANCELLING' : 'DELETING';
    b.doneAt = now + this.ctx.deleteMs('jsa');
    this.ctx.counters.bump(this.ctx.counters.acceptedDeletes, key);
    count('accepted');
    this.ctx.counters.deletionInProgress(`jsa:${console}`, now, b.doneAt);
    return json(202, fields(req, publicView(b)));
  }

  private show(req: SimRequest, console: string, id: number): SimResponse {
    const b = this.get(this.console(console), id);
    return b ? json(200, fields(req, publicView(b))) : this.notFound(id);
  }

  private listBackups(req: SimRequest, console: string): SimResponse {
    const c = this.console(console);
    const all = [...c.backups.values()].filter((b) => this.settle(c, b)).sort((a, b) => a.id - b.id);
    const range = /^items=(\d+)-(\d+)$/.exec(String(req.headers.range ?? '').trim());
    const start = range ? Number(range[1]) : 0;
    const end = range ? Math.min(Number(range[2]), all.length - 1) : all.length - 1;
    const page = end >= start ? all.slice(start, end + 1) : [];
    const last = start + page.length - 1;
    return json(
      200,
      page.map((b) => fields(req, publicView(b))),
      { 'Content-Range': `items ${start}-${last}/${all.length}` },
    );
  }
}

function publicView(b: Stored): Record<string, unknown> {
  const { sim: _sim, doneAt: _d, ...rest } = b;
  return rest;
}

/** `?fields=id,status` → only those top-level fields. */
function fields(req: SimRequest, o: Record<string, unknown>): Record<string, unknown> {
  const f = req.query.get('fields');
  if (!f) return o;
  const wanted = new Set(f.split(',').map((s) => s.trim().replace(/\(.*$/, '')));
  return Object.fromEntries(Object.entries(o).filter(([k]) => wanted.has(k)));
}

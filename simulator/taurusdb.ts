/**
 * Huawei TaurusDB simulator (formerly GaussDB for MySQL, API v3), per providers.md §5.
 *
 * DELETE /v3/{project}/backups/{id} → 200 {backup_id, backup_name}; the deletion then takes
 * ctx.deleteMs('taurusdb'), computed lazily from the clock (no timers). There is no job id: clients
 * confirm by listing with ?backup_id= until the backup no longer appears.
 *
 * Chosen where the documentation is silent:
 * - While its deletion runs, a backup stays listed with its PRIOR status (the documented statuses are
 *   BUILDING, COMPLETED, FAILED, AVAILABLE; no DELETING is documented). A second delete meanwhile
 *   answers 409 DBS.200011 (another operation in progress).
 * - An automated backup (type auto) is refused with 400 DBS.201208.
 * - A BUILDING backup is refused with 409 DBS.201205, or 400 DBS.201208 when seeded with
 *   `sim.buildingAnswer: 'DBS.201208'` (the adapter must read both as "retry later").
 * - A missing backup answers 400 DBS.201203 on delete, or 404 DBS.201010 when `notFoundCode` says so.
 * - Bad offset/limit answer 400 DBS.200001; unknown routes answer like the API gateway (404 APIGW.0101).
 *
 * Scope modes (`configure(project, modes)`, `PUT /_admin/modes`, or a seed entry without an id that
 * carries them in `sim`): `repeatAcrossPages` plays offset pagination while a backup is created after
 * the first page: later pages start one backup early (the boundary record is listed twice) and
 * `total_count` counts the new backup, which no page shows any more.
 */
import { json, match, type SimRequest, type SimResponse } from './http-kit';
import type { SimContext } from './context';
import type { ProviderSim } from './provider-sim';

/** Simulation switches, not part of the API. */
export interface TaurusSimSwitches {
  /** Delete answers 409 DBS.200011 (another operation in progress): always when true, or for the first N calls. */
  busy?: boolean | number;
  /** Delete answers 400 DBS.201208 (not allowed in this backup status), e.g. while it is being restored. */
  notAllowed?: boolean;
  /** Status BUILDING for this long after seeding, then COMPLETED (seed status BUILDING without it: for ever). */
  buildingMs?: number;
  /** How a delete of a BUILDING backup is refused (default DBS.201205). */
  buildingAnswer?: 'DBS.201205' | 'DBS.201208';
  /** The deletion is accepted, runs its time, and the backup is still there afterwards. */
  failDelete?: boolean;
}

/** A backup in the API's shape (defaults fill what is left out). */
export interface TaurusBackup {
  id: string;
  name?: string;
  /** "yyyy-mm-ddThh:mm:ssZ", Z an offset like +0800. */
  begin_time: string;
  end_time?: string | null;
  /** BUILDING, COMPLETED, FAILED, AVAILABLE. Default COMPLETED. */
  status?: string;
  take_up_time?: number;
  /** auto | manual. Default manual. */
  type?: string;
  size?: number;
  datastore?: { type: string; version: string };
  instance_id: string;
  description?: string;
  sim?: TaurusSimSwitches;
}

interface Stored extends TaurusBackup {
  status: string;
  type: string;
  busyLeft?: number;
  buildDoneAt?: number;
  deleteDoneAt?: number;
}

export interface TaurusModes {
  repeatAcrossPages?: boolean;
}

export class TaurusDbSim implements ProviderSim {
  readonly name = 'taurusdb';
  /** How a delete of a missing backup is answered. */
  notFoundCode: 'DBS.201203' | 'DBS.201010' = 'DBS.201203';
  private readonly projects = new Map<string, Map<string, Stored>>();
  private readonly modes = new Map<string, TaurusModes>();

  constructor(private readonly ctx: SimContext) {}

  configure(project: string, modes: TaurusModes): void {
    this.modes.set(project, { ...this.modes.get(project), ...modes });
  }

  seed(scope: string, entries: unknown[]): number {
    const store = this.store(scope);
    const now = this.ctx.now();
    const backups = (entries as Array<TaurusBackup & { sim?: TaurusModes }>).filter((e) => {
      if (!e.id) this.configure(scope, e.sim ?? {});
      return !!e.id;
    });
    for (const b of backups) {
      const building = b.sim?.buildingMs !== undefined;
      store.set(b.id, {
        status: building ? 'BUILDING' : 'COMPLETED',
        type: 'manual',
        ...b,
        ...(building ? { buildDoneAt: now + b.sim!.buildingMs!, end_time: null } : {}),
        ...(typeof b.sim?.busy === 'number' ? { busyLeft: b.sim.busy } : {}),
      });
    }
    return backups.length;
  }

  /** Ends a backup's BUILDING state now (tests: after they have seen a delete refused because of it). */
  finishBuilding(scope: string, id: string): void {
    const b = this.store(scope).get(id);
    if (b?.status === 'BUILDING') b.buildDoneAt = this.ctx.now();
  }

  list(scope: string): unknown[] {
    const store = this.store(scope);
    return [...store.values()].filter((b) => this.settle(store, b)).map(view);
  }

  reset(): void {
    this.projects.clear();
    this.modes.clear();
  }

  private store(project: string): Map<string, Stored> {
    let s = this.projects.get(project);
    if (!s) this.projects.set(project, (s = new Map()));
    return s;
  }

  /** Applies the passage of time: a build completes, a deletion ends. Returns false when it is gone. */
  private settle(store: Map<string, Stored>, b: Stored): boolean {
    const now = this.ctx.now();
    if (b.buildDoneAt !== undefined && b.buildDoneAt <= now) {
      b.status = 'COMPLETED';
      b.end_time = b.begin_time;
      b.buildDoneAt = undefined;
    }
    if (b.deleteDoneAt !== undefined && b.deleteDoneAt <= now) {
      b.deleteDoneAt = undefined;
      if (b.sim?.failDelete) return true;
      store.delete(b.id);
      return false;
    }
    return true;
  }

  handle(req: SimRequest): SimResponse {
    let m: Record<string, string> | undefined;
    if ((m = match('/v3/:project/backups', req.path)) && req.method === 'GET') {
      return this.ctx.checkHuaweiToken(req, m.project!) ?? this.query(m.project!, req);
    }
    if ((m = match('/v3/:project/backups/:id', req.path)) && req.method === 'DELETE') {
      return this.ctx.checkHuaweiToken(req, m.project!) ?? this.remove(m.project!, m.id!);
    }
    return json(404, {
      error_code: 'APIGW.0101',
      error_msg: `The API does not exist or has not been published in the environment: ${req.method} ${req.path}`,
    });
  }

  private remove(project: string, id: string): SimResponse {
    const key = `taurusdb:${project}:${id}`;
    this.ctx.counters.bump(this.ctx.counters.deleteCalls, key);
    const count = this.ctx.counters.deleteRequest.bind(this.ctx.counters, key);
    const store = this.store(project);
    const b = store.get(id);
    if (!b || !this.settle(store, b)) {
      count('notFound');
      return this.notFoundCode === 'DBS.201010'
        ? json(404, { error_code: 'DBS.201010', error_msg: 'The backup does not exist.' })
        : json(400, {
            error_code: 'DBS.201203',
            error_msg: 'The backup does not exist or has been deleted.',
          });
    }
    if (b.deleteDoneAt !== undefined) {
      count('busy');
      return json(409, {
        error_code: 'DBS.200011',
        error_msg: 'Another operation is being performed on the backup. Try again later.',
      });
    }
    if (b.type.toLowerCase() === 'auto') {
      count('refused');
      return json(400, {
        error_code: 'DBS.201208',
        error_msg: 'This operation is not allowed: automated backups cannot be deleted.',
      });
    }
    if (b.status === 'BUILDING') {
      count('busy');
      return b.sim?.buildingAnswer === 'DBS.201208'
        ? json(400, {
            error_code: 'DBS.201208',
            error_msg: 'This operation is not allowed in the current backup status: BUILDING.',
          })
        : json(409, { error_code: 'DBS.201205', error_msg: 'The backup is in progress. Try again later.' });
    }
    if (b.sim?.notAllowed) {
      count('refused');
      return json(400, {
        error_code: 'DBS.201208',
        error_msg: 'This operation is not allowed in the current backup status.',
      });
    }
    if (b.sim?.busy === true || (b.busyLeft ?? 0) > 0) {
      if (b.busyLeft) b.busyLeft--;
      count('busy');
      return json(409, {
        error_code: 'DBS.200011',
        error_msg: 'Another operation is being performed on the instance. Try again later.',
      });
    }
    const now = this.ctx.now();
    b.deleteDoneAt = now + this.ctx.deleteMs('taurusdb');
    this.ctx.counters.bump(this.ctx.counters.acceptedDeletes, key);
    count('accepted');
    this.ctx.counters.deletionInProgress(`taurusdb:${project}`, now, b.deleteDoneAt);
    return json(200, { backup_id: b.id, backup_name: b.name ?? b.id });
  }

  private query(project: string, req: SimRequest): SimResponse {
    const q = req.query;
    const offset = Number(q.get('offset') ?? 0);
    const limit = Number(q.get('limit') ?? 100);
    if (!Number.isInteger(offset) || offset < 0) return invalid('offset');
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return invalid('limit');
    const type = q.get('backup_type');
    if (type && type !== 'auto' && type !== 'manual') return invalid('backup_type');
    const begin = q.get('begin_time') ? Date.parse(q.get('begin_time')!) : undefined;
    const end = q.get('end_time') ? Date.parse(q.get('end_time')!) : undefined;
    if (Number.isNaN(begin) || Number.isNaN(end)) return invalid('begin_time/end_time');
    const store = this.store(project);
    const all = [...store.values()]
      .filter((b) => this.settle(store, b))
      .filter((b) => !q.get('backup_id') || b.id === q.get('backup_id'))
      .filter((b) => !q.get('instance_id') || b.instance_id === q.get('instance_id'))
      .filter((b) => !type || b.type.toLowerCase() === type)
      .filter((b) => begin === undefined || Date.parse(b.begin_time) >= begin)
      .filter((b) => end === undefined || Date.parse(b.begin_time) <= end)
      .sort((a, b) => Date.parse(b.begin_time) - Date.parse(a.begin_time) || a.id.localeCompare(b.id));
    // repeatAcrossPages: a backup created after the first page shifted everything by one.
    const shifted = offset > 0 && !q.get('backup_id') && this.modes.get(project)?.repeatAcrossPages;
    const start = shifted ? offset - 1 : offset;
    return json(200, {
      backups: all.slice(start, start + limit).map(view),
      total_count: all.length + (shifted ? 1 : 0),
    });
  }
}

function invalid(field: string): SimResponse {
  return json(400, { error_code: 'DBS.200001', error_msg: `Invalid parameter: ${field}` });
}

function view(b: Stored): Record<string, unknown> {
  return {
    id: b.id,
    name: b.name ?? b.id,
    begin_time: b.begin_time,
    end_time: b.end_time === undefined ? b.begin_time : b.end_time,
    status: b.status,
    take_up_time: b.take_up_time ?? 2,
    type: b.type,
    size: b.size ?? 1024,
    datastore: b.datastore ?? { type: 'gaussdb-mysql', version: '8.0' },
    instance_id: b.instance_id,
    description: b.description ?? '',
  };
}

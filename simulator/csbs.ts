/**
 * Huawei CSBS simulator (Cloud Server Backup Service, API v1, legacy service), per providers.md §2.
 *
 * The deletion queue is the point: at most `maxRunning` (5) deletion tasks run at once per user
 * (project); later ones wait, first come first served. Nothing runs on timers: when a delete is
 * accepted, its start is computed at once as max(accepted, earliest free runner) and its end as
 * start + ctx.deleteMs('csbs'); every read derives the status from the clock:
 * waiting_delete → deleting → deleted (for `deletedVisibleMs`) → 404 CSBS.3001.
 * counters.deletionInProgress(`csbs:${project}`) records accepted → done, so maxConcurrent shows how
 * many deletions the CLIENT had in progress (queued + running), which is what its limit must bound.
 *
 * Not documented, chosen here: the answer to a bad `marker` (400 CSBS.1000) and to an unknown
 * provider id in the delete URL (404 CSBS.3001); unknown routes answer like the API gateway
 * (404 APIGW.0101).
 */
import type { DeleteAnswer } from './delete-requests';
import { json, match, type SimRequest, type SimResponse } from './http-kit';
import type { SimContext } from './context';
import type { ProviderSim } from './provider-sim';

export const CSBS_PROVIDER_ID = 'fc4d5750-22e7-4798-8a46-f48f62c4c1da';

/** Simulation switches, not part of the API. */
export interface CsbsSimSwitches {
  /** Delete answers 400 CSBS.2003 (another operation runs): always when true, or for the first N calls. */
  busy?: boolean | number;
  /** Delete answers 400 CSBS.8007: the backup is registered as an image. */
  registeredAsImage?: boolean;
  /** The deletion runs its time, then the item turns `error` with extend_info.fail_op = delete. */
  failDelete?: boolean | { code?: string; reason?: string };
  /** On an entry WITHOUT an id: the whole project may not use the legacy service (BackupService.4008). */
  legacyClosed?: boolean;
}

/** A checkpoint item in the API's shape (defaults fill what is left out). */
export interface CsbsCheckpointItem {
  id: string;
  checkpoint_id: string;
  name?: string;
  status?: string;
  resource_id: string;
  resource_type?: string;
  /** Like 2017-04-18T01:21:52.701973 (no zone). */
  created_at: string;
  updated_at?: string;
  description?: string;
  tags?: Array<{ key: string; value: string }>;
  extend_info?: Record<string, unknown>;
  sim?: CsbsSimSwitches;
}

interface Stored extends CsbsCheckpointItem {
  status: string;
  busyLeft?: number;
  deletion?: { acceptedAt: number; startAt: number; doneAt: number };
  /** Gone (404); kept only so a `marker` naming it still has a position. */
  purged?: boolean;
}

interface Project {
  items: Map<string, Stored>;
  /** When each of the `maxRunning` runners is free again (ms epoch). */
  runnerFreeAt: number[];
  legacyClosed: boolean;
}

/** Statuses in which a delete is accepted. */
const DELETABLE = new Set(['available', 'error']);

export class CsbsSim implements ProviderSim {
  readonly name = 'csbs';
  /** Deletion tasks running at once per project (documented: 5). */
  maxRunning = 5;
  /** How long a finished deletion still answers `deleted` before 404 CSBS.3001. */
  deletedVisibleMs = 1_000;
  private readonly projects = new Map<string, Project>();

  constructor(private readonly ctx: SimContext) {}

  seed(scope: string, entries: unknown[]): number {
    const p = this.project(scope);
    let n = 0;
    for (const e of entries as CsbsCheckpointItem[]) {
      if (!e.id) {
        if (e.sim?.legacyClosed) p.legacyClosed = true;
        continue;
      }
      const busy = e.sim?.busy;
      p.items.set(e.id, {
        status: 'available',
        resource_type: 'OS::Nova::Server',
        ...e,
        ...(typeof busy === 'number' ? { busyLeft: busy } : {}),
      });
      n++;
    }
    return n;
  }

  /** BackupService.4008 for every call of this project from now on. */
  closeLegacyService(project: string): void {
    this.project(project).legacyClosed = true;
  }

  list(scope: string): unknown[] {
    const p = this.project(scope);
    return [...p.items.values()]
      .filter((b) => this.settle(p, b) && b.status !== 'deleted')
      .map((b) => this.view(b));
  }

  reset(): void {
    this.projects.clear();
  }

  private project(id: string): Project {
    let p = this.projects.get(id);
    if (!p) {
      p = { items: new Map(), runnerFreeAt: [], legacyClosed: false };
      this.projects.set(id, p);
    }
    return p;
  }

  /**
   * Applies the passage of time to one item: its queued deletion's status, a failed deletion's
   * `error`, a finished one's `deleted` and then its disappearance. Returns false when it is gone.
   */
  private settle(p: Project, b: Stored): boolean {
    if (b.purged) return false;
    const d = b.deletion;
    if (!d) return true;
    const now = this.ctx.now();
    if (now < d.startAt) {
      b.status = 'waiting_delete';
    } else if (now < d.doneAt) {
      b.status = 'deleting';
    } else if (b.sim?.failDelete) {
      const f = typeof b.sim.failDelete === 'object' ? b.sim.failDelete : {};
      const description = f.reason ?? 'Simulated backend failure while deleting the backup';
      b.status = 'error';
      b.deletion = undefined;
      b.extend_info = {
        ...b.extend_info,
        fail_op: 'delete',
        fail_reason: description,
        fail_code: { Code: f.code ?? 'CSBS.9999', Description: description },
      };
    } else if (now < d.doneAt + this.deletedVisibleMs) {
      b.status = 'deleted';
    } else {
      b.status = 'deleted';
      b.purged = true;
      return false;
    }
    return true;
  }

  handle(req: SimRequest): SimResponse {
    const project = match('/v1/:project', req.path.split('/').slice(0, 3).join('/'))?.project;
    if (!project) return routeNotFound(req);
    const denied = this.ctx.checkHuaweiToken(req, project);
    if (denied) return denied;
    const p = this.project(project);
    if (p.legacyClosed) {
      return json(400, {
        error_code: 'BackupService.4008',
        error_msg: 'New projects cannot use CSBS. Use Cloud Backup and Recovery (CBR) instead.',
      });
    }
    let m: Record<string, string> | undefined;
    if (
      (m = match('/v1/:project/providers/:provider/checkpoints/:checkpoint', req.path)) &&
      req.method === 'DELETE'
    ) {
      return this.remove(
        project,
        p,
        m.provider!,
        m.checkpoint!,
        req.query.get('checkpoint_items') ?? undefined,
      );
    }
    if (match('/v1/:project/checkpoint_items', req.path) && req.method === 'GET')
      return this.listItems(p, req);
    if (match('/v1/:project/checkpoint_items/count', req.path) && req.method === 'GET') {
      return json(200, { count: this.filtered(p, req).length });
    }
    if ((m = match('/v1/:project/checkpoint_items/:id', req.path)) && req.method === 'GET') {
      const b = p.items.get(m.id!);
      return b && this.settle(p, b) ? json(200, { checkpoint_item: this.view(b) }) : notFound(m.id!);
    }
    return routeNotFound(req);
  }

  private remove(
    project: string,
    p: Project,
    provider: string,
    checkpoint: string,
    itemId?: string,
  ): SimResponse {
    if (provider !== CSBS_PROVIDER_ID) return notFound(`provider ${provider}`);
    const targets: Stored[] = [];
    if (itemId !== undefined) {
      const b = p.items.get(itemId);
      this.ctx.counters.bump(this.ctx.counters.deleteCalls, `csbs:${project}:${itemId}`);
      if (!b || !this.settle(p, b) || b.checkpoint_id !== checkpoint || b.status === 'deleted') {
        this.ctx.counters.deleteRequest(`csbs:${project}:${itemId}`, 'notFound');
        return notFound(itemId);
      }
      targets.push(b);
    } else {
      // Without checkpoint_items, every backup of the checkpoint is deleted.
      for (const b of p.items.values()) {
        if (b.checkpoint_id === checkpoint && this.settle(p, b) && b.status !== 'deleted') targets.push(b);
      }
      for (const b of targets)
        this.ctx.counters.bump(this.ctx.counters.deleteCalls, `csbs:${project}:${b.id}`);
      if (!targets.length) return notFound(checkpoint);
    }
    // One request answers for every target: each of them saw it, with the same answer.
    const countAll = (answer: DeleteAnswer) => {
      for (const t of targets) this.ctx.counters.deleteRequest(`csbs:${project}:${t.id}`, answer);
    };
    // Every target is checked before any deletion is queued.
    for (const b of targets) {
      if (b.sim?.registeredAsImage) {
        countAll('refused');
        return json(400, {
          error_code: 'CSBS.8007',
          error_msg: `The backup ${b.id} has been registered as an image and cannot be deleted. Delete the image first.`,
        });
      }
      let busy = b.sim?.busy === true || !DELETABLE.has(b.status);
      if (!busy && b.busyLeft) {
        b.busyLeft--;
        busy = true;
      }
      if (busy) {
        countAll('busy');
        return json(400, {
          error_code: 'CSBS.2003',
          error_msg: `The backup ${b.id} is being backed up, restored or deleted (status ${b.status}). Try again later.`,
        });
      }
    }
    countAll('accepted');
    for (const b of targets) this.enqueue(project, p, b);
    return json(200, {});
  }

  /** FIFO over `maxRunning` runners: starts when the earliest runner frees up, never before acceptance. */
  private enqueue(project: string, p: Project, b: Stored): void {
    const now = this.ctx.now();
    while (p.runnerFreeAt.length < this.maxRunning) p.runnerFreeAt.push(0);
    let slot = 0;
    for (let i = 1; i < this.maxRunning; i++) if (p.runnerFreeAt[i]! < p.runnerFreeAt[slot]!) slot = i;
    const startAt = Math.max(now, p.runnerFreeAt[slot]!);
    const doneAt = startAt + this.ctx.deleteMs('csbs');
    p.runnerFreeAt[slot] = doneAt;
    b.deletion = { acceptedAt: now, startAt, doneAt };
    b.extend_info = { ...b.extend_info, fail_op: '', fail_reason: '', fail_code: {} };
    this.settle(p, b);
    const key = `csbs:${project}:${b.id}`;
    this.ctx.counters.bump(this.ctx.counters.acceptedDeletes, key);
    this.ctx.counters.deletionInProgress(`csbs:${project}`, now, doneAt);
  }

  /** Items matching the query's filters, in the query's order (tombstones included, for markers). */
  private ordered(p: Project, req: SimRequest): Stored[] {
    const desc = (req.query.get('sort') ?? 'created_at:desc') !== 'created_at:asc';
    return [...p.items.values()].sort(
      (a, b) =>
        (desc ? b.created_at.localeCompare(a.created_at) : a.created_at.localeCompare(b.created_at)) ||
        a.id.localeCompare(b.id),
    );
  }

  private filtered(p: Project, req: SimRequest, items = this.ordered(p, req)): Stored[] {
    const q = req.query;
    const eq = (k: string, v: string | undefined) => !q.get(k) || q.get(k) === v;
    return items.filter(
      (b) =>
        this.settle(p, b) &&
        eq('status', b.status) &&
        eq('resource_id', b.resource_id) &&
        eq('resource_type', b.resource_type) &&
        eq('checkpoint_id', b.checkpoint_id) &&
        (!q.get('start_time') || b.created_at >= q.get('start_time')!) &&
        (!q.get('end_time') || b.created_at <= q.get('end_time')!),
    );
  }

  private listItems(p: Project, req: SimRequest): SimResponse {
    const limit = Number(req.query.get('limit') ?? 1000);
    const offset = Number(req.query.get('offset') ?? 0);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !Number.isInteger(offset) || offset < 0) {
      return json(400, { error_code: 'CSBS.1000', error_msg: 'Invalid limit or offset' });
    }
    let items = this.ordered(p, req);
    const marker = req.query.get('marker');
    if (marker) {
      const at = items.findIndex((b) => b.id === marker);
      if (at < 0) return json(400, { error_code: 'CSBS.1000', error_msg: `Invalid marker ${marker}` });
      items = items.slice(at + 1);
    }
    const page = this.filtered(p, req, items).slice(offset, offset + limit);
    return json(200, { checkpoint_items: page.map((b) => this.view(b)) });
  }

  private view(b: Stored): Record<string, unknown> {
    const { sim, busyLeft: _b, deletion: _d, purged: _p, extend_info, ...rest } = b;
    return {
      name: `backup-${b.id}`,
      description: '',
      tags: [],
      backup_data: {},
      updated_at: rest.created_at,
      ...rest,
      extend_info: {
        auto_trigger: false,
        fail_code: {},
        fail_op: '',
        fail_reason: '',
        image_type: 'backup',
        progress: 100,
        size: 40960,
        resource_type: rest.resource_type,
        ...(sim?.registeredAsImage ? { os_images_data: [{ image_id: `img-${b.id}` }] } : {}),
        ...extend_info,
      },
    };
  }
}

function notFound(what: string): SimResponse {
  return json(404, { error_code: 'CSBS.3001', error_msg: `The backup ${what} does not exist.` });
}

function routeNotFound(req: SimRequest): SimResponse {
  return json(404, {
    error_code: 'APIGW.0101',
    error_msg: `The API does not exist or has not been published in the environment: ${req.method} ${req.path}`,
  });
}

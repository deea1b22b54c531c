/**
 * Huawei VBS simulator (native OpenStack V3 / Cinder API), per providers.md §3.
 * Delete is accepted from available/error only; the backup stays `deleting` for the configured time,
 * then disappears (404 itemNotFound) or, if marked to fail, turns `error_deleting`.
 *
 * Scope modes (`configure(project, modes)`, `PUT /_admin/modes`, or a seed entry without an id that
 * carries them in `sim`): `repeatAcrossPages` plays offset pagination while a backup is created after
 * the first page: every later page starts one backup early, so the record at the first page boundary
 * is listed twice (nothing is skipped).
 */
import { json, match, type SimRequest, type SimResponse } from './http-kit';
import type { SimContext } from './context';
import type { ProviderSim } from './provider-sim';

export interface VbsBackup {
  id: string;
  name?: string;
  status: string;
  volume_id: string;
  created_at: string;
  size?: number;
  is_incremental?: boolean;
  has_dependent_backups?: boolean;
  fail_reason?: string | null;
  /** Simulation switches, not part of the API. */
  sim?: {
    usedForImage?: boolean;
    failDelete?: boolean;
    /** Answers leave `created_at` out (it still orders the listing). */
    noCreatedAt?: boolean;
  };
}

export interface VbsModes {
  repeatAcrossPages?: boolean;
}

interface Stored extends VbsBackup {
  deleteDoneAt?: number;
}

export class VbsSim implements ProviderSim {
  readonly name = 'vbs';
  private readonly projects = new Map<string, Map<string, Stored>>();
  private readonly modes = new Map<string, VbsModes>();

  constructor(private readonly ctx: SimContext) {}

  configure(project: string, modes: VbsModes): void {
    this.modes.set(project, { ...this.modes.get(project), ...modes });
  }

  seed(scope: string, backups: unknown[]): number {
    const store = this.store(scope);
    let n = 0;
    for (const b of backups as Array<VbsBackup & { sim?: VbsModes }>) {
      if (!b.id) {
        this.configure(scope, b.sim ?? {});
        continue;
      }
      n++;
      store.set(b.id, {
        size: 10,
        is_incremental: false,
        has_dependent_backups: false,
        fail_reason: null,
        ...b,
      });
    }
    return n;
  }

  list(scope: string): unknown[] {
    return [...this.store(scope).values()].filter((b) => this.settle(scope, b)).map(publicView);
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

  /** Applies the passage of time: a finished deletion removes the backup. Returns false if gone. */
  private settle(project: string, b: Stored): boolean {
    if (b.status === 'deleting' && b.deleteDoneAt !== undefined && b.deleteDoneAt <= this.ctx.now()) {
      if (b.sim?.failDelete) {
        b.status = 'error_deleting';
        b.fail_reason = 'Simulated backend failure while deleting';
        b.deleteDoneAt = undefined;
        return true;
      }
      this.store(project).delete(b.id);
      return false;
    }
    return true;
  }

  handle(req: SimRequest): SimResponse {
    let m: Record<string, string> | undefined;
    if ((m = match('/v3/:project/backups/detail', req.path)) && req.method === 'GET')
      return this.listDetail(req, m.project!);
    if ((m = match('/v3/:project/backups/:id', req.path))) {
      const denied = this.ctx.checkHuaweiToken(req, m.project!);
      if (denied) return denied;
      if (req.method === 'DELETE') return this.remove(m.project!, m.id!);
      if (req.method === 'GET') return this.show(m.project!, m.id!);
    }
    return json(404, {
      itemNotFound: { message: `The resource could not be found: ${req.method} ${req.path}`, code: 404 },
    });
  }

  private get(project: string, id: string): Stored | undefined {
    const b = this.store(project).get(id);
    return b && this.settle(project, b) ? b : undefined;
  }

  private notFound(id: string): SimResponse {
    return json(404, { itemNotFound: { message: `Backup ${id} could not be found.`, code: 404 } });
  }

  private remove(project: string, id: string): SimResponse {
    const key = `vbs:${project}:${id}`;
    this.ctx.counters.bump(this.ctx.counters.deleteCalls, key);
    const count = this.ctx.counters.deleteRequest.bind(this.ctx.counters, key);
    const b = this.get(project, id);
    if (!b) {
      count('notFound');
      return this.notFound(id);
    }
    if (b.sim?.usedForImage) {
      count('refused');
      return json(400, {
        badRequest: {
          message: 'VolumeBackup.0113: The backup has been used to create an image and cannot be deleted.',
          code: 400,
        },
      });
    }
    if (b.has_dependent_backups) {
      count('refused');
      return json(400, {
        badRequest: { message: 'Invalid backup: Incremental backups exist for this backup.', code: 400 },
      });
    }
    if (b.status !== 'available' && b.status !== 'error') {
      // deleting, creating, restoring...: another operation runs on the backup.
      count('busy');
      return json(400, {
        badRequest: {
          message: `Invalid backup: Backup status must be available or error, but current status is "${b.status}".`,
          code: 400,
        },
      });
    }
    const now = this.ctx.now();
    b.status = 'deleting';
    b.deleteDoneAt = now + this.ctx.deleteMs('vbs');
    this.ctx.counters.bump(this.ctx.counters.acceptedDeletes, key);
    count('accepted');
    this.ctx.counters.deletionInProgress(`vbs:${project}`, now, b.deleteDoneAt);
    return { status: 202 };
  }

  private show(project: string, id: string): SimResponse {
    const b = this.get(project, id);
    return b ? json(200, { backup: publicView(b) }) : this.notFound(id);
  }

  private listDetail(req: SimRequest, project: string): SimResponse {
    const denied = this.ctx.checkHuaweiToken(req, project);
    if (denied) return denied;
    const offset = Number(req.query.get('offset') ?? 0);
    const limit = Math.min(Number(req.query.get('limit') ?? 1000), 1000);
    const all = [...this.store(project).values()]
      .filter((b) => this.settle(project, b))
      .filter((b) => !req.query.get('status') || b.status === req.query.get('status'))
      .filter((b) => !req.query.get('volume_id') || b.volume_id === req.query.get('volume_id'))
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id));
    // repeatAcrossPages: a backup created after the first page shifted everything by one.
    const start = offset > 0 && this.modes.get(project)?.repeatAcrossPages ? offset - 1 : offset;
    const page = all.slice(start, start + limit);
    const body: Record<string, unknown> = { backups: page.map(publicView) };
    if (start + limit < all.length) {
      body.backups_links = [
        { href: `/v3/${project}/backups/detail?offset=${offset + limit}&limit=${limit}`, rel: 'next' },
      ];
    }
    return json(200, body);
  }
}

function publicView(b: Stored): Omit<VbsBackup, 'created_at'> & { created_at?: string } {
  const { sim, deleteDoneAt: _d, created_at, ...rest } = b;
  return { ...rest, ...(sim?.noCreatedAt ? {} : { created_at }), fail_reason: rest.fail_reason ?? null };
}

/**
 * Every delete request that reaches the simulator, per backup, by how it was answered: the evidence
 * for README "Guarantees" / "One deletion per backup". `acceptedDeletes` alone cannot catch a repeat:
 * four of the five providers refuse a second DELETE while the first runs (busy) and answer 404 after
 * it, and neither is an acceptance. Here every request that arrives after the backup's first
 * acceptance, whatever its answer (accepted again, busy, 404, refused, an injected fault), counts in
 * `afterAcceptance`: a correct client sends none, so each one is a repeat the product made.
 *
 * Keys are `${provider}:${scope}:${backupId}` like the other counters (Veeam: the VM id, since Veeam
 * deletes a VM's backups with one POST /deleteBackups).
 */

import { match, type SimRequest } from './http-kit';

/** How the simulator answered one delete request. */
export type DeleteAnswer =
  /** The deletion was accepted (2xx; a Veeam session started). */
  | 'accepted'
  /** Refused because the backup is busy: its deletion (or a backup/restore) is in progress. */
  | 'busy'
  /** The provider's not-found answer: the backup is gone or never existed. */
  | 'notFound'
  /** Refused for another reason (used for an image, automated backup, wrong state...). */
  | 'refused'
  /** An injected fault answered (status, malformed body, connection reset) before the provider saw it. */
  | 'fault';

export interface DeleteRequestCounts {
  /** Every delete request for this backup. */
  total: number;
  accepted: number;
  busy: number;
  notFound: number;
  refused: number;
  faults: number;
  /** Requests after the first acceptance, any answer: repeats. 0 unless the product deleted again. */
  afterAcceptance: number;
  /** Of those, 404s: a repeat that reached a backup already gone (what a repeat looks like most often). */
  notFoundAfterAcceptance: number;
  /** Of those, busy refusals: a repeat while the first deletion still ran. */
  busyAfterAcceptance: number;
}

const ANSWER_FIELD = {
  accepted: 'accepted',
  busy: 'busy',
  notFound: 'notFound',
  refused: 'refused',
  fault: 'faults',
} as const satisfies Record<DeleteAnswer, keyof DeleteRequestCounts>;

export class DeleteRequests {
  private readonly byKey = new Map<string, DeleteRequestCounts>();
  /** When each request arrived (ms epoch), per key: what a client's waits look like from here. */
  private readonly times = new Map<string, number[]>();
  /**
   * Keys in the order their deletions were first accepted: the provider's own sequence, so tests can
   * judge fairness and pauses by what happened in between, not by wall-clock windows a slow machine
   * stretches.
   */
  private readonly acceptances: string[] = [];

  /** Records one delete request for `key`, answered `answer`. */
  record(key: string, answer: DeleteAnswer): void {
    let c = this.byKey.get(key);
    if (!c) {
      c = {
        total: 0,
        accepted: 0,
        busy: 0,
        notFound: 0,
        refused: 0,
        faults: 0,
        afterAcceptance: 0,
        notFoundAfterAcceptance: 0,
        busyAfterAcceptance: 0,
      };
      this.byKey.set(key, c);
    }
    if (c.accepted > 0) {
      c.afterAcceptance++;
      if (answer === 'notFound') c.notFoundAfterAcceptance++;
      if (answer === 'busy') c.busyAfterAcceptance++;
    }
    if (answer === 'accepted' && c.accepted === 0) this.acceptances.push(key);
    c.total++;
    c[ANSWER_FIELD[answer]]++;
    const t = this.times.get(key) ?? [];
    t.push(Date.now());
    this.times.set(key, t);
  }

  /** Arrival times (ms epoch) of the delete requests for `key`, oldest first. */
  timesOf(key: string): number[] {
    return [...(this.times.get(key) ?? [])];
  }

  /** Keys (those starting with `prefix`) in the order their deletions were first accepted. */
  acceptanceOrder(prefix = ''): string[] {
    return this.acceptances.filter((k) => k.startsWith(prefix));
  }

  get(key: string): DeleteRequestCounts | undefined {
    const c = this.byKey.get(key);
    return c && { ...c };
  }

  /** Keys → requests after acceptance, only those with at least one. */
  repeats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, c] of this.byKey) if (c.afterAcceptance > 0) out[k] = c.afterAcceptance;
    return out;
  }

  snapshot(): Record<string, DeleteRequestCounts> {
    return Object.fromEntries([...this.byKey].map(([k, c]) => [k, { ...c }]));
  }

  reset(): void {
    this.byKey.clear();
    this.times.clear();
    this.acceptances.length = 0;
  }
}

/**
 * The backups a request asks to delete, as counter keys; [] when it is not a delete. The server uses
 * it for requests the provider logic never answers itself (injected faults, authentication refusals),
 * so those are counted too: the caller did send them. CSBS without `checkpoint_items` deletes the
 * whole checkpoint; its items are not known here, so that form counts only at the provider.
 */
export function deleteKeysOf(provider: string, req: SimRequest): string[] {
  let m: Record<string, string> | undefined;
  switch (provider) {
    case 'vbs':
    case 'taurusdb':
      m = req.method === 'DELETE' ? match('/v3/:project/backups/:id', req.path) : undefined;
      return m ? [`${provider}:${m.project}:${m.id}`] : [];
    case 'csbs': {
      const item = req.query.get('checkpoint_items');
      m =
        req.method === 'DELETE' && item
          ? match('/v1/:project/providers/:provider/checkpoints/:checkpoint', req.path)
          : undefined;
      return m ? [`csbs:${m.project}:${item}`] : [];
    }
    case 'jsa':
      m =
        req.method === 'DELETE' ? match('/:console/api/backup_and_restore/backups/:id', req.path) : undefined;
      return m && /^\d+$/.test(m.id!) ? [`jsa:${m.console}:${Number(m.id)}`] : [];
    case 'veeam':
      m = req.method === 'POST' ? match('/:a/api/v1/virtualMachines/:vm/deleteBackups', req.path) : undefined;
      return m ? [`veeam:${m.a}:${m.vm}`] : [];
    default:
      return [];
  }
}

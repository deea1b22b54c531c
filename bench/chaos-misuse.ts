/**
 * Misuse during the chaos run (issue 12, "Tests and figures"): while the main run deletes under faults
 * and crashes, two more runs do what operators do by mistake.
 *
 *  - The TWIN run asks for the main run's Veeam VMs again, half in its start items and half in an
 *    `addItems` page that also repeats some of the first half. Veeam's deleteBackups is not idempotent,
 *    so every VM must still get exactly one job session (README, "Guarantees": One deletion per backup);
 *    the main run's checks count sessions over every run.
 *  - The CANCELLED run deletes backups of its own and is cancelled through Temporal (what the Web UI's
 *    Cancel and `temporal workflow cancel` do, not the `cancel` signal) once a few are accepted. No
 *    deletion of its items may be accepted after the cancel's group window (README, "Guarantees":
 *    Temporal's controls stop deletions), and the run still completes with one outcome per item.
 */
import type { RetentionClient } from '../client/retention-client';
import type { Simulator } from '../simulator/server';
import { PIPELINE_WINDOW_MS } from '../workflows/account-lane';
import { itemKey, type ItemOutcome, type ItemRef, type ProviderKind } from '../workflows/model';

/** A deletion accepted this long after the cancel may still have been handed to a group before it. */
export const CANCEL_ALLOWANCE_S = (PIPELINE_WINDOW_MS + 3_000) / 1000;
/** Backups of the cancelled run; the cancel comes once CANCEL_AFTER of them are accepted. */
const CANCELLED_ITEMS = 40;
const CANCEL_AFTER = 3;
/** VMs of the twin's start items repeated in its page. */
const REPEATED_IN_PAGE = 3;

export interface MisuseFigures {
  twinRun: string;
  twinItems: number;
  /** Twin items without exactly one outcome, or with one that contradicts the provider's state. */
  twinProblems: string[];
  cancelledRun: string;
  cancelledItems: number;
  /** Seconds since the main run started when the cancel was sent (undefined: it never was). */
  cancelAtS?: number;
  cancelledSkipped: number;
  /** Items of the cancelled run first accepted later than the cancel plus CANCEL_ALLOWANCE_S. */
  acceptedAfterCancelWindow: string[];
  cancelledProblems: string[];
}

export interface MisuseTarget {
  /** The account (a VBS one) whose scope gets the cancelled run's backups. */
  vbs: { name: string; scope: string; provider: ProviderKind };
  /** The main run's deletable Veeam items. */
  veeamItems: ItemRef[];
}

export class Misuse {
  readonly cancelledItems: ItemRef[];
  /** Simulator keys of the cancelled run's backups: requested, so deletes on them are expected. */
  readonly cancelledSimKeys: Set<string>;
  private twinRun = '';
  private cancelledRun = '';
  private cancelAtS?: number;

  constructor(
    private readonly sim: Simulator,
    private readonly target: MisuseTarget,
    suffix: string,
  ) {
    const { vbs } = target;
    const backups = Array.from({ length: CANCELLED_ITEMS }, (_, i) => ({
      id: `vbs-cancel-${suffix}-${String(i).padStart(3, '0')}`,
      name: `misuse-${i}`,
      status: 'available',
      volume_id: 'vol-misuse',
      created_at: '2025-01-01T00:00:00',
    }));
    sim.seed('vbs', vbs.scope, backups);
    this.cancelledItems = backups.map((b) => ({ account: vbs.name, id: b.id }));
    this.cancelledSimKeys = new Set(backups.map((b) => `vbs:${vbs.scope}:${b.id}`));
  }

  /** Starts both runs (the twin's page and seal follow its start). */
  async start(rc: RetentionClient, suffix: string): Promise<void> {
    const vms = this.target.veeamItems;
    const half = Math.ceil(vms.length / 2);
    this.twinRun = await rc.start(
      { items: vms.slice(0, half), itemsToFollow: true, dryRun: false, label: 'chaos twin' },
      { workflowId: `chaos-twin-${suffix}`, startedBy: 'chaos' },
    );
    // A page of the rest plus a few of the first half again, sent as a separate update (the workflow,
    // not the client, must merge them).
    await rc.addItems(this.twinRun, [...vms.slice(half), ...vms.slice(0, REPEATED_IN_PAGE)]);
    await rc.seal(this.twinRun);
    this.cancelledRun = await rc.start(
      { items: this.cancelledItems, dryRun: false, label: 'chaos cancelled through Temporal' },
      { workflowId: `chaos-cancelled-${suffix}`, startedBy: 'chaos' },
    );
  }

  /**
   * Cancels the cancelled run through Temporal (`cancel`: the handle's cancel, retried while the dev
   * server may be away) once a few of its deletions were accepted.
   */
  async cancelWhenStarted(
    sinceRunS: () => number,
    stop: () => boolean,
    cancel: (workflowId: string) => Promise<void>,
  ): Promise<void> {
    const accepted = () =>
      [...this.cancelledSimKeys].filter((k) => this.sim.ctx.counters.acceptedDeletes.has(k)).length;
    while (!stop() && accepted() < CANCEL_AFTER) await new Promise((r) => setTimeout(r, 50));
    if (stop()) return;
    this.cancelAtS = sinceRunS();
    await cancel(this.cancelledRun);
  }

  /** Both runs' workflow ids, to wait for their end. */
  get runs(): string[] {
    return [this.twinRun, this.cancelledRun];
  }

  /** Reads both runs' reports and checks them; `firstAcceptedS` says when a simulator key was first accepted. */
  async check(
    reportOf: (workflowId: string) => Promise<ItemOutcome[]>,
    exists: (provider: ProviderKind, scope: string, id: string) => boolean,
    veeamScopeOf: (account: string) => string,
    firstAcceptedS: (simKey: string) => number | undefined,
  ): Promise<MisuseFigures> {
    const twinProblems: string[] = [];
    const twin = await reportOf(this.twinRun);
    const byKey = oneEach(twin, this.target.veeamItems, twinProblems);
    for (const [key, o] of byKey) {
      const gone = !exists('veeam', veeamScopeOf(o.account), o.id);
      if ((o.outcome === 'deleted' || o.outcome === 'absent') && !gone)
        twinProblems.push(`${key}: ${o.outcome} but the VM still has restore points`);
    }

    const cancelledProblems: string[] = [];
    const cancelled = oneEach(await reportOf(this.cancelledRun), this.cancelledItems, cancelledProblems);
    const { scope } = this.target.vbs;
    const late: string[] = [];
    for (const [key, o] of cancelled) {
      const simKey = `vbs:${scope}:${o.id}`;
      const at = firstAcceptedS(simKey);
      if (o.outcome === 'skipped' && at !== undefined)
        cancelledProblems.push(`${key}: skipped but its deletion was accepted at ${at.toFixed(1)} s`);
      if (this.cancelAtS !== undefined && at !== undefined && at > this.cancelAtS + CANCEL_ALLOWANCE_S)
        late.push(`${o.id} accepted at ${at.toFixed(1)} s (cancel at ${this.cancelAtS.toFixed(1)} s)`);
    }
    if (this.cancelAtS === undefined) cancelledProblems.push('the cancel was never sent');
    return {
      twinRun: this.twinRun,
      twinItems: this.target.veeamItems.length,
      twinProblems,
      cancelledRun: this.cancelledRun,
      cancelledItems: this.cancelledItems.length,
      ...(this.cancelAtS !== undefined ? { cancelAtS: this.cancelAtS } : {}),
      cancelledSkipped: [...cancelled.values()].filter((o) => o.outcome === 'skipped').length,
      acceptedAfterCancelWindow: late,
      cancelledProblems,
    };
  }

  /** Every failure of the misuse checks, in words. */
  static failures(f: MisuseFigures): string[] {
    const out = [
      ...f.twinProblems.map((p) => `twin run: ${p}`),
      ...f.cancelledProblems.map((p) => `cancelled run: ${p}`),
    ];
    if (f.acceptedAfterCancelWindow.length)
      out.push(
        `cancelled run: ${f.acceptedAfterCancelWindow.length} deletions accepted after the cancel's group window: ${f.acceptedAfterCancelWindow.slice(0, 5).join('; ')}`,
      );
    return out;
  }
}

/** The report by item key; what is missing, doubled or not requested goes to `problems`. */
function oneEach(report: ItemOutcome[], items: ItemRef[], problems: string[]): Map<string, ItemOutcome> {
  const wanted = new Set(items.map(itemKey));
  const byKey = new Map<string, ItemOutcome>();
  for (const o of report) {
    const key = itemKey(o);
    if (!wanted.has(key)) problems.push(`${key}: an outcome for an item not requested`);
    else if (byKey.has(key)) problems.push(`${key}: two outcomes`);
    byKey.set(key, o);
  }
  for (const key of wanted) if (!byKey.has(key)) problems.push(`${key}: no outcome`);
  return byKey;
}

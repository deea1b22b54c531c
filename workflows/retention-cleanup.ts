/**
 * retentionCleanup: the run. Takes ONE JSON object (so the Web UI's Start Workflow form can start it),
 * validates it, resolves the accounts, splits the items into batches (child workflows of at most
 * BATCH_SIZE items), activates a few batches at a time, and returns a summary. The per-item outcome
 * list lives in the batches' results (see client/retention-client.ts, report()). Its bookkeeping is
 * the pure run/run-batches.ts; discovery for policy runs is run/discovery.ts.
 *
 * Guards (README, "Guarantees"): the count guards (`maxDeletions`, `maxDeletionsPerAccount`, and each
 * account's `maxDeletionsPerRun` from the worker config) are judged on what the run received, for item
 * lists and policies alike, before any batch they concern may start: such batches wait until the run
 * is sealed and the check passed. An executed run that crosses one stops every batch (their items end
 * `skipped`) and fails with GuardViolation; a dry run reports the violations.
 *
 * Stopping: the `cancel` signal, a cancellation from the Web UI or `temporal workflow cancel`, and a
 * cancel during discovery all end the same way: the batches stop sending, never-started items end
 * `skipped`, deletions in progress finish, and the run completes with `cancelled: true` and its report.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { checkCounts } from '../policy/guards';
import { RESOLVE_ACCOUNTS_RETRY } from '../contract/retry-rules';
import { FAILURE } from '../contract/failure-types';
import { accountsCovered, cutByAccount, interleaveByAccount } from './batch-planning';
import { ACTIVE_BATCHES, BATCH_SIZE, cleanupBatch } from './cleanup-batch';
import { RUN_EVENTS_BEFORE_CONTINUE, shouldContinueAsNew } from './continue-as-new';
import { batchWorkflowId } from '../contract/ids';
import { CurrentDetails, renderRunDetails } from './current-details';
import { described } from './handler-descriptions';
import { own, uniqueBy } from './keyed';
import {
  addItemsUpdate,
  approveUpdate,
  batchControlSignal,
  planQuery,
  rejectUpdate,
  skipItemsSignal,
  batchReportSignal,
  cancelSignal,
  pauseSignal,
  progressQuery,
  resumeSignal,
  sealItemsUpdate,
  type AccountPlanSummary,
  type BatchControl,
  type RunProgress,
  type RunState,
  type RunSummary,
} from '../contract/messages';
import {
  addCounts,
  emptyCounts,
  itemKey,
  totalOf,
  type AccountLimits,
  type ItemRef,
  type OutcomeCounts,
} from '../contract/model';
import { PATCHES } from './patches';
import type { CleanupRequest } from '../contract/request';
import type * as RequestModule from '../contract/request';
import { discover, discoverTwice, guardViolation, type Discovered } from './run/discovery';
import { notificationsSent, raiseEvent, setRunEventContext } from './run/events';
import { RunBatches, type BatchEntry, type Finished } from './run/run-batches';
import { SA } from './search-attributes';
import { batchDetails, batchSummary } from '../contract/user-metadata';
import { ApprovalGate, type GateCarry } from './run/approval-gate';
import {
  approvalTimeoutMs,
  DEFAULT_APPROVAL_TIMEOUT,
  MAX_APPROVAL_DELETIONS,
  PLAN_ITEMS_SHOWN,
  type PlanAccount,
  type RunPlan,
} from '../contract/approval';
import { isDeletion } from './run/run-batches';
import { PLAN_ACCOUNT_RETRY } from '../contract/retry-rules';

export { ACTIVE_BATCHES };

/**
 * The request's zod schemas, loaded on first use. The worker evaluates the bundle's modules afresh for
 * every workflow execution it creates (module state is per execution), and loading zod and building
 * the schemas took about 10 ms of the single workflow thread each time: paid by every lane and batch,
 * which never validate a request, it was most of a run's start-up (docs/benchmarks.md).
 */
const requestModule = (): typeof RequestModule =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
  require('../contract/request') as typeof RequestModule;
/** See workflows/continue-as-new.ts. */
export const HISTORY_EVENTS_BEFORE_CONTINUE = RUN_EVENTS_BEFORE_CONTINUE;

/** A batch whose items wait for the count guards to be judged (only ever 'waiting' until then). */
type RunBatchEntry = BatchEntry & { held?: true };

/** What continue-as-new hands to the next execution of a run: no items, only batch bookkeeping. */
export interface RunCarry {
  request: CleanupRequest;
  accounts: Record<string, AccountLimits>;
  batches: RunBatchEntry[];
  finished: Finished;
  sealed: boolean;
  state: RunState;
  startedAt: string;
  cancelled: boolean;
  cancelReason?: string;
  plan?: AccountPlanSummary[];
  guardViolations?: string[];
  /** Deletions requested per account (the count guards judge them). */
  tally?: Record<string, number>;
  guardsChecked?: boolean;
  /** The approval gate (README, "Approving deletions"); absent when the run records no plan. */
  approval?: GateCarry;
}

const { resolveAccounts } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: RESOLVE_ACCOUNTS_RETRY,
});

/** After approval, a policy run lists each account again (like planAccount: paged, heartbeating). */
const { recheckPlan } = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '2m',
  retry: PLAN_ACCOUNT_RETRY,
});

/** The reason an approved item the rules would no longer delete ends `skipped` with. */
export const PLAN_CHANGED_REASON = 'plan changed since approval';

export async function retentionCleanup(rawRequest: unknown, carry?: RunCarry): Promise<RunSummary> {
  const run = new Run(carry?.request ?? parseRequest(rawRequest), carry);
  // Cancelled from outside (Web UI, `temporal workflow cancel`): the same as the `cancel` signal. The
  // work runs in a scope the cancellation does not interrupt, so the run still stops its batches,
  // waits for their outcomes and returns its summary and report.
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    if (isCancellation(err)) run.cancel('cancelled through Temporal (Web UI or `temporal workflow cancel`)');
  });
  return CancellationScope.nonCancellable(() => run.run(!carry));
}

function parseRequest(raw: unknown): CleanupRequest {
  const parsed = requestModule().parseCleanupRequest(raw);
  if (parsed.ok) return parsed.value;
  throw ApplicationFailure.create({
    type: FAILURE.InvalidRequest,
    nonRetryable: true,
    message: `invalid cleanup request: ${parsed.problems.join('; ')}`,
    details: parsed.problems,
  });
}

class Run {
  private readonly workflowId = workflowInfo().workflowId;
  private readonly accounts: Record<string, AccountLimits>;
  private readonly batches: RunBatches;
  private readonly startedAt: string;
  // A policy run is sealed once discovery has handed over every planned item.
  private sealed: boolean;
  private discovering = false;
  private discoveryScope?: CancellationScope;
  private plan?: AccountPlanSummary[];
  private guardViolations?: string[];
  private guardsChecked: boolean;
  private state: RunState;
  private cancelled: boolean;
  private cancelReason?: string;
  /** Set when the run must fail once its batches have stopped (a guard crossed, discovery failed). */
  private failure?: unknown;
  private discovered?: Discovered;
  private dirty = false;
  private readonly details = new CurrentDetails();
  /** The exact plan and the decision on it, when the run may need approval (README, "Approving deletions"). */
  private readonly gate: ApprovalGate;
  /** Whether the run records its plan's item keys (only runs that may need approval: keeps carries small). */
  private recordsPlan: boolean;
  private approvalTimer?: CancellationScope;
  /** addItems updates in flight (accepted, not yet finished). */
  private adding = 0;
  /** Why the batches stop, when a person's decision (or its absence) stopped the run. */
  private batchCancelReason?: string;

  constructor(
    private readonly request: CleanupRequest,
    carry?: RunCarry,
  ) {
    this.accounts = carry?.accounts ?? {};
    this.batches = new RunBatches(carry?.batches, carry?.finished, carry?.tally);
    this.sealed = carry?.sealed ?? !(request.itemsToFollow || request.policy);
    this.plan = carry?.plan;
    this.guardViolations = carry?.guardViolations;
    this.guardsChecked = carry?.guardsChecked ?? false;
    this.state = carry?.state ?? 'starting';
    this.cancelled = carry?.cancelled ?? false;
    this.cancelReason = carry?.cancelReason;
    this.startedAt = carry?.startedAt ?? new Date().toISOString();
    this.gate = new ApprovalGate(carry?.approval);
    this.recordsPlan = carry?.approval !== undefined;
    this.installHandlers();
    setRunEventContext(() => ({
      label: this.request.label ?? '',
      dryRun: this.request.dryRun,
      counts: this.progress().counts,
    }));
  }

  cancel(reason?: string): void {
    if (!this.cancelled) this.cancelReason = reason;
    // A cancelled run waits for no decision any more.
    this.approvalTimer?.cancel();
    this.cancelled = true;
    // A cancelled run takes no more items, so it must not wait for a seal that may never come.
    this.sealed = true;
    this.discoveryScope?.cancel();
    this.dirty = true;
  }

  private idOf(n: number): string {
    return batchWorkflowId(this.workflowId, n);
  }

  private installHandlers(): void {
    setHandler(progressQuery, () => this.progress(), described('progress'));
    setHandler(
      batchReportSignal,
      (r) => {
        const prefix = `${this.workflowId}/batch-`;
        const n = r.batchWorkflowId.startsWith(prefix) ? Number(r.batchWorkflowId.slice(prefix.length)) : NaN;
        if (this.batches.onReport(n, r)) this.dirty = true;
      },
      described('batchReport'),
    );
    setHandler(
      pauseSignal,
      () => {
        if (this.state === 'running' || this.state === 'starting') this.state = 'paused';
        this.dirty = true;
      },
      described('pause'),
    );
    setHandler(
      resumeSignal,
      () => {
        if (this.state === 'paused') this.state = 'running';
        this.dirty = true;
      },
      described('resume'),
    );
    setHandler(cancelSignal, (arg) => this.cancel(arg?.reason ?? 'cancel signal'), described('cancel'));
    setHandler(
      addItemsUpdate,
      async ({ items }) => {
        // Counted while in flight: the run is not sealed, nor its plan judged, while a page is half
        // added (see sealItems; README "Guarantees": only the approved plan is deleted).
        this.adding++;
        try {
          await this.ensureAccounts(items);
          await this.addBatches(items);
        } finally {
          this.adding--;
          this.dirty = true;
        }
        return { accepted: items.length, total: this.batches.totalItems() };
      },
      {
        ...described('addItems'),
        validator: (arg) => {
          if (this.cancelled)
            throw new Error('this run was cancelled: no more items can be added (start a new run)');
          // A policy run's items come from its own discovery (activities/discover.ts), on its policy's
          // accounts only. An item on another account would pass the plan check, which compares only
          // the policy's accounts, and be deleted (or approved from a plan whose accounts omit it).
          const policyAccounts = this.request.policy?.accounts;
          const outside = policyAccounts
            ? [
                ...new Set(
                  ((Array.isArray(arg?.items) ? arg.items : []) as { account?: string }[]).map((i) =>
                    String(i?.account),
                  ),
                ),
              ].filter((a) => !policyAccounts.includes(a))
            : [];
          if (outside.length)
            throw new Error(
              `this run plans from its policy: it takes no items on other accounts (${outside.map((a) => JSON.stringify(a)).join(', ')}); start an item-list run with "itemsToFollow": true`,
            );
          if (this.sealed)
            throw new Error('this run is sealed: no more items can be added (start a new run)');
          const parsed = requestModule().parseItemPage(arg?.items);
          if (!parsed.ok) throw new Error(`invalid items: ${parsed.problems.join('; ')}`);
        },
      },
    );
    setHandler(planQuery, () => this.planView(), described('plan'));
    setHandler(
      approveUpdate,
      (input) => {
        const record = this.gate.approve(input, new Date().toISOString());
        upsertMemo({ approval: record, awaitingApproval: null });
        this.approvalTimer?.cancel();
        this.dirty = true;
        return { approved: true as const, planHash: record.planHash };
      },
      {
        ...described('approve'),
        validator: (input) => {
          if (this.cancelled) throw new Error('not awaiting approval: this run was cancelled');
          const refused = this.gate.refuseApprove(input);
          if (refused) throw new Error(refused);
        },
      },
    );
    setHandler(
      rejectUpdate,
      (input) => {
        const planHash = this.gate.c.planHash;
        const reason = this.gate.reject(input);
        upsertMemo({
          rejection: {
            approver: input.approver,
            reason: input.reason,
            at: new Date().toISOString(),
            planHash,
          },
          awaitingApproval: null,
        });
        this.stopUndecided(reason);
        return { rejected: true as const };
      },
      {
        ...described('reject'),
        validator: (input) => {
          if (this.cancelled) throw new Error('not awaiting approval: this run was cancelled');
          const refused = this.gate.refuseReject(input);
          if (refused) throw new Error(refused);
        },
      },
    );
    setHandler(
      sealItemsUpdate,
      async () => {
        // An addItems update accepted before the seal may still be resolving accounts or starting
        // batches: seal only once it is in, or its later pages would start after the guards were
        // judged and the plan hashed, deleting without approval and uncounted by the guards.
        if (this.adding > 0 && patched(PATCHES.sealAfterAdds)) await condition(() => this.adding === 0);
        if (!this.sealed) upsertSearchAttributes([{ key: SA.total, value: this.batches.totalItems() }]);
        this.sealed = true;
        this.dirty = true;
        return { total: this.batches.totalItems() };
      },
      described('sealItems'),
    );
  }

  /** Resolves account names through the worker config; unknown names fail the caller, naming them. */
  private async ensureAccounts(items: Pick<ItemRef, 'account'>[]): Promise<void> {
    const missing = [...new Set(items.map((i) => i.account))].filter((a) => !own(this.accounts, a));
    if (!missing.length) return;
    try {
      Object.assign(this.accounts, await resolveAccounts({ names: missing }));
    } catch (err) {
      // The activity's own message names the unknown accounts and the known ones: pass it on as is.
      throw ApplicationFailure.create({
        type: FAILURE.UnknownAccount,
        nonRetryable: true,
        message: err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err),
      });
    }
    // Only when the set changes: one history event each, not one per page.
    upsertSearchAttributes([
      { key: SA.accounts, value: Object.keys(this.accounts).sort() },
      { key: SA.providers, value: [...new Set(Object.values(this.accounts).map((a) => a.provider))].sort() },
    ]);
  }

  private limitsOf(account: string): AccountLimits {
    return own(this.accounts, account)!;
  }

  /** The count guards concern these accounts: the request has them, or an account has a ceiling. */
  private countGuardsApply(accounts: Iterable<string>): boolean {
    const g = this.request.guards;
    if (g?.maxDeletions !== undefined || g?.maxDeletionsPerAccount !== undefined) return true;
    for (const a of accounts) if (own(this.accounts, a)?.maxDeletionsPerRun !== undefined) return true;
    return false;
  }

  private async addBatches(items: ItemRef[]): Promise<void> {
    // Merge duplicates within the page before splitting it, so a duplicate never lands in two batches.
    const unique = uniqueBy(items, itemKey);
    this.batches.countDeletions(unique);
    const approvalMayApply = this.approvalMayApply();
    for (const page of this.cut(unique)) {
      const covered = accountsCovered(page, Object.keys(this.accounts));
      // Batches wait while discovery runs (nothing is deleted before the whole plan passed the guards)
      // and, in an executed run, while count guards that concern them are not judged yet.
      const held =
        !this.request.dryRun &&
        !this.guardsChecked &&
        (approvalMayApply || this.countGuardsApply(new Set(page.map((i) => i.account))));
      const control: BatchControl = this.cancelled
        ? 'cancelled'
        : !this.discovering && !held && this.state !== 'paused' && this.startsAtOnce(covered)
          ? 'active'
          : 'waiting';
      const n = this.batches.add({
        size: page.length,
        control,
        ...(covered ? { accounts: covered } : {}),
        ...(held ? { held: true } : {}),
      } as RunBatchEntry);
      if (this.recordsPlan)
        this.gate.add(
          page.filter(isDeletion).map((i) => ({ ...i, key: itemKey(i) })),
          n,
        );
      await startChild(cleanupBatch, {
        workflowId: this.idOf(n),
        args: [
          {
            runWorkflowId: this.workflowId,
            items: page,
            accounts: this.accounts,
            dryRun: this.request.dryRun,
            control,
          },
        ],
        // Batches outlive a continue-as-new of the run; they report back by signal, not by completion.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        memo: { run: this.workflowId, batch: n, items: page.length },
        staticSummary: batchSummary(this.workflowId, n, page.length),
        staticDetails: batchDetails(this.workflowId, page, this.request.dryRun),
      });
    }
    this.dirty = true;
    // A plan too large to hold for approval stops while every batch is still held: nothing deleted.
    // (No patch: only runs past the limit take this path, and those could not have continued as new.)
    if (
      this.recordsPlan &&
      !this.cancelled &&
      !this.request.dryRun &&
      this.gate.c.refs.length > MAX_APPROVAL_DELETIONS &&
      this.approvalNeeded()
    )
      this.stopUndecided(
        `approval covers at most ${MAX_APPROVAL_DELETIONS} deletions per run and this plan has more; nothing was deleted: split the request (fewer accounts or groups per run) and approve each`,
      );
  }

  /**
   * Whether this run may have to wait for approval: the request asks for it, a guard violation would
   * wait instead of failing, or an account the run deletes on has `requireApproval` in the worker
   * config. Such a run records its plan's item keys and holds its batches until the guards are judged.
   */
  private approvalMayApply(): boolean {
    if (this.request.dryRun) return false;
    const may =
      this.request.approval?.required === true ||
      this.request.guards?.onViolation === 'await-approval' ||
      Object.values(this.accounts).some((a) => a.requireApproval);
    if (may && !this.recordsPlan) {
      // Items received before an account that requires approval joined the run were not recorded.
      if (this.batches.entries.length) this.gate.c.incomplete = true;
      this.recordsPlan = true;
      if (this.gate.c.state === 'not-required') this.gate.c.state = 'planning';
    }
    return may;
  }

  /** A page's batches: by account (patch 'account-batches', batch-planning.ts), before by position. */
  private cut(unique: ItemRef[]): ItemRef[][] {
    if (patched(PATCHES.accountBatches)) return cutByAccount(unique, BATCH_SIZE);
    const spread = interleaveByAccount(unique);
    const pages: ItemRef[][] = [];
    for (let offset = 0; offset < spread.length; offset += BATCH_SIZE)
      pages.push(spread.slice(offset, offset + BATCH_SIZE));
    return pages;
  }

  /** Whether a batch created now starts at once (the run is running; nothing holds it). */
  private startsAtOnce(covered: number[] | undefined): boolean {
    if (patched(PATCHES.accountBatches))
      return this.batches.startsAtOnce(covered, ACTIVE_BATCHES, this.sealed);
    return (
      this.batches.activeCount() < ACTIVE_BATCHES &&
      (!patched(PATCHES.accountAwareActivation) || this.sealed || this.batches.bringsIdleAccounts(covered))
    );
  }

  private async setBatchControl(n: number, control: BatchControl): Promise<void> {
    this.batches.entries[n]!.control = control;
    const reason = control === 'cancelled' ? this.batchCancelReason : undefined;
    await getExternalWorkflowHandle(this.idOf(n))
      .signal(batchControlSignal, { state: control, ...(reason ? { reason } : {}) })
      .catch(() => undefined);
  }

  private progress(): RunProgress {
    const { counts, perAccount, inFlight } = this.batches.progress(
      (a) => own(this.accounts, a)?.provider ?? 'unknown',
    );
    const total = this.batches.totalItems();
    const done = totalOf(counts);
    const minutes = Math.max((Date.now() - Date.parse(this.startedAt)) / 60_000, 1 / 60);
    const ratePerMinute = done / minutes;
    return {
      workflowId: this.workflowId,
      state: this.state,
      dryRun: this.request.dryRun,
      ...(this.request.label ? { label: this.request.label } : {}),
      total,
      counts,
      done,
      inFlight,
      perAccount,
      batches: {
        total: this.batches.entries.length,
        active: this.batches.activeCount(),
        done: this.batches.entries.filter((b) => b.done).length,
      },
      startedAt: this.startedAt,
      ratePerMinute: Math.round(ratePerMinute * 10) / 10,
      etaSeconds: done && this.sealed ? Math.round(((total - done) / ratePerMinute) * 60) : null,
    };
  }

  /** Policy runs: plan every account once; the run keeps every batch waiting meanwhile. */
  private async discover(): Promise<void> {
    await this.ensureAccounts(this.request.policy!.accounts.map((account) => ({ account })));
    if (this.cancelled) return; // cancelled before discovery started: nothing to list
    this.discovering = true;
    const planOnce = patched(PATCHES.planOnce);
    try {
      this.discoveryScope = new CancellationScope();
      const d = await this.discoveryScope.run(() =>
        (planOnce ? discover : discoverTwice)(this.workflowId, this.request, (a) => this.limitsOf(a)),
      );
      this.plan = d.plan;
      this.guardViolations = d.violations;
      if (planOnce) this.discovered = d;
      else this.guardsChecked = true;
    } catch (err) {
      // A cancel ends discovery; any other failure stops the run once its batches have stopped.
      if (!isCancellation(err)) {
        this.failure = err;
        this.cancel('discovery failed');
      }
    } finally {
      this.discoveryScope = undefined;
      this.discovering = false;
    }
    this.sealed = true;
    upsertSearchAttributes([{ key: SA.total, value: this.batches.totalItems() }]);
    this.dirty = true;
  }

  /**
   * Once sealed: the count guards on what the run received, and, for a policy, that it received exactly
   * what each account's plan holds. A crossed guard stops an executed run; a dry run reports it.
   */
  private async checkGuards(): Promise<void> {
    if (this.guardsChecked || !this.sealed || this.discovering) return;
    // Items still being added are judged with the rest (see sealItems).
    if (this.adding > 0 && patched(PATCHES.sealAfterAdds)) return;
    this.guardsChecked = true;
    const ceilings = new Map<string, number>();
    for (const [name, l] of Object.entries(this.accounts))
      if (l.maxDeletionsPerRun !== undefined) ceilings.set(name, l.maxDeletionsPerRun);
    const tally = this.batches.tallyMap();
    // A policy's count guards judge its plan (an account that crossed a fraction guard emitted nothing);
    // that the run received exactly that plan is checked below.
    const counted = this.discovered?.planned ?? tally;
    const violations = [
      ...checkCounts(counted, this.request.guards ?? {}, ceilings).map((v) => v.message),
      ...(this.guardViolations ?? []),
    ];
    if (!violations.length && this.discovered && !this.cancelled) {
      for (const [account, planned] of this.discovered.planned) {
        const received = tally.get(account) ?? 0;
        if (received !== planned)
          violations.push(
            `account ${account}: its plan holds ${planned} deletions but the run received ${received}; stopped before deleting anything`,
          );
      }
    }
    this.guardViolations = violations;
    for (const b of this.batches.entries as RunBatchEntry[]) delete b.held;
    const executed = !this.request.dryRun && !this.cancelled;
    if (violations.length && executed) {
      // HOOK (notifications, issue 14 item 6): a guard was crossed.
      await raiseEvent('guard-violation', { reason: violations.join('; ') });
      if (this.request.guards?.onViolation === 'await-approval') return this.awaitApproval();
      this.failure = guardViolation(violations);
      this.cancel('a guard was crossed');
    } else if (executed && this.approvalNeeded()) await this.awaitApproval();
    if (this.gate.c.state === 'planning') {
      // No approval needed after all: the keys are not needed either (small continue-as-new input).
      this.gate.c.state = 'not-required';
      this.gate.compact(this.request);
    }
  }

  /** The request asks for approval, or an account with deletions in the plan requires it. */
  private approvalNeeded(): boolean {
    const tally = this.batches.tally;
    // A plan without deletions has nothing to approve: the run ends as it would have.
    if (!Object.values(tally).some((n) => n > 0)) return false;
    if (this.request.approval?.required) return true;
    return Object.entries(this.accounts).some(
      ([name, a]) => a.requireApproval && (own(tally, name) ?? 0) > 0,
    );
  }

  /**
   * The plan is complete and judged: wait for a person, nothing sent to any provider meanwhile (the
   * batches stay waiting while the state is not `running`). README, "Approving deletions".
   */
  private async awaitApproval(): Promise<void> {
    if (!patched(PATCHES.approval)) return;
    if (this.gate.c.incomplete) {
      // Fail safe: a plan the run did not record in full cannot be approved as a whole.
      return this.stopUndecided(
        'approval required, but an account that requires it joined the run after items were received; start the run again with "approval": {"required": true}',
      );
    }
    const hash = this.gate.hash(this.request);
    const timeout = this.request.approval?.timeout ?? DEFAULT_APPROVAL_TIMEOUT;
    const deadline = new Date(Date.now() + approvalTimeoutMs(timeout)).toISOString();
    this.gate.open(hash, deadline, this.request.approval?.approvers);
    this.state = 'awaiting-approval';
    upsertMemo({ awaitingApproval: { planHash: hash, deadline } });
    this.armApprovalTimer();
    // HOOK (notifications, issue 14 item 6): the run awaits approval.
    await raiseEvent('awaiting-approval', { planHash: hash });
  }

  /** At the deadline an undecided run stops: every item skipped, "approval timed out". */
  private armApprovalTimer(): void {
    const ms = Math.max(1, Date.parse(this.gate.c.deadline!) - Date.now());
    this.approvalTimer = new CancellationScope();
    this.approvalTimer
      .run(() => sleep(ms, { summary: 'approval deadline' }))
      .then(
        () => {
          if (!this.gate.awaiting) return;
          upsertMemo({
            approvalTimedOut: { at: new Date().toISOString(), planHash: this.gate.c.planHash },
            awaitingApproval: null,
          });
          this.stopUndecided(this.gate.timeOut());
        },
        () => undefined, // cancelled: a decision came first
      );
  }

  /** Rejected, timed out, or not approvable: nothing is deleted, every item ends skipped with the reason. */
  private stopUndecided(reason: string): void {
    this.approvalTimer?.cancel();
    this.batchCancelReason = `not deleted: ${reason}`;
    this.cancel(reason);
  }

  /**
   * Approved: policy runs list each account again before anything is sent, and an approved item the
   * same rules would no longer delete ends `skipped` (PLAN_CHANGED_REASON); backups that newly qualify
   * are not in any batch, so they are never touched. Then the batches may start.
   */
  private async applyApproval(): Promise<void> {
    const policy = this.request.policy;
    if (policy && !this.gate.c.rechecked) {
      const { accounts: _names, ...rules } = policy;
      const now = new Date().toISOString();
      try {
        const results = await Promise.all(
          [...this.gate.itemsByAccount()].map(([account, approved]) =>
            recheckPlan({ limits: this.limitsOf(account), policy: rules, now, approved }),
          ),
        );
        const changed = results.flatMap((r) => r.changed);
        await Promise.all(
          [...this.gate.batchesOf(changed)].map(([n, keys]) =>
            getExternalWorkflowHandle(this.idOf(n)).signal(skipItemsSignal, {
              keys,
              reason: PLAN_CHANGED_REASON,
            }),
          ),
        );
      } catch (err) {
        // Without a fresh listing the approved plan cannot be confirmed: delete nothing.
        this.failure = err;
        this.stopUndecided('the accounts could not be listed again after approval');
        return;
      }
      this.gate.c.rechecked = true;
    }
    this.gate.compact(this.request);
    if (this.state === 'awaiting-approval') this.state = 'running';
    this.dirty = true;
  }

  /** The `plan` query (README, "Approving deletions"). */
  private planView(): RunPlan {
    if (!this.sealed || this.discovering)
      throw new Error(
        'no plan yet: the run is still planning (listing accounts or receiving items); query again',
      );
    if (!this.recordsPlan)
      throw new Error(
        'this run needs no approval, so it keeps no plan to approve; its result shows what it planned (`retention-cleanup report`)',
      );
    const refs = this.gate.c.refs;
    const perAccount = this.gate.deletionsPerAccount();
    const providerOf = (a: string) => own(this.accounts, a)?.provider ?? 'unknown';
    const accounts: PlanAccount[] = this.plan
      ? this.plan.map((p) => ({
          account: p.account,
          provider: providerOf(p.account),
          toDelete: perAccount.get(p.account) ?? 0,
          kept: p.kept,
          listed: p.listed,
          ...(p.toDeleteBytes !== undefined ? { toDeleteBytes: p.toDeleteBytes } : {}),
        }))
      : [...perAccount]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([account, toDelete]) => ({
            account,
            provider: providerOf(account),
            toDelete,
          }));
    const g = this.gate.c;
    return {
      planHash: this.gate.peekHash(this.request),
      toDelete: [...perAccount.values()].reduce((a, b) => a + b, 0),
      accounts,
      guardViolations: this.guardViolations ?? [],
      approval: {
        required: g.required,
        state: g.state,
        ...(g.approvers ? { approvers: g.approvers } : {}),
        ...(g.deadline ? { deadline: g.deadline } : {}),
        ...(g.decidedBy ? { decidedBy: g.decidedBy } : {}),
      },
      ...(refs.length && refs.length <= PLAN_ITEMS_SHOWN
        ? {
            items: refs.map(([, account, id, checkpointId]) => ({
              account,
              id,
              ...(checkpointId ? { checkpointId } : {}),
            })),
          }
        : {}),
    };
  }

  /** Sends the batches their new control state: cancelled, paused, resumed, or activated. */
  private async steer(): Promise<void> {
    const signals: Promise<void>[] = [];
    const entries = this.batches.entries;
    if (this.cancelled && this.state !== 'cancelling') {
      this.state = 'cancelling';
      entries.forEach((b, n) => {
        if (!b.done && b.control !== 'cancelled') signals.push(this.setBatchControl(n, 'cancelled'));
      });
    } else if (!this.cancelled) {
      entries.forEach((b, n) => {
        if (b.done) return;
        if (this.state === 'paused' && b.control === 'active')
          signals.push(this.setBatchControl(n, 'paused'));
        if (this.state === 'running' && b.control === 'paused')
          signals.push(this.setBatchControl(n, 'active'));
      });
      const held = (entries as RunBatchEntry[]).some((b) => b.held);
      if (this.state === 'running' && patched(PATCHES.accountAwareActivation)) {
        // The waiting batch that brings the most idle accounts first (workflows/batch-planning.ts).
        const byIdle = patched(PATCHES.accountBatches);
        const next = () =>
          held ? this.nextUnheld(byIdle) : this.batches.nextToActivate(ACTIVE_BATCHES, this.sealed, byIdle);
        for (let n = next(); n >= 0; n = next()) signals.push(this.setBatchControl(n, 'active'));
      } else if (this.state === 'running') {
        for (let n = 0; n < entries.length && this.batches.activeCount() < ACTIVE_BATCHES; n++) {
          if (entries[n]!.control === 'waiting' && !(entries[n] as RunBatchEntry).held)
            signals.push(this.setBatchControl(n, 'active'));
        }
      }
    }
    await Promise.all(signals);
  }

  /** The next batch to activate among those not held for the guards. */
  private nextUnheld(byIdle: boolean): number {
    const view = new RunBatches(
      (this.batches.entries as RunBatchEntry[]).map((b) =>
        b.held ? { ...b, control: 'paused' as const } : b,
      ),
    );
    return view.nextToActivate(ACTIVE_BATCHES, this.sealed, byIdle);
  }

  async run(start: boolean): Promise<RunSummary> {
    if (start) await this.begin();
    else if (this.gate.awaiting) this.armApprovalTimer();
    for (;;) {
      this.dirty = false;
      await this.checkGuards();
      if (this.gate.state === 'approved' && this.state === 'awaiting-approval' && !this.cancelled)
        await this.applyApproval();
      await this.steer();
      this.showDetails();
      if (this.sealed && this.batches.allDone()) break;
      if (shouldContinueAsNew(HISTORY_EVENTS_BEFORE_CONTINUE)) {
        await condition(allHandlersFinished);
        await notificationsSent(); // a notification still being scheduled would be dropped
        await continueAsNew<typeof retentionCleanup>(null, this.carry());
      }
      if (!this.dirty) await condition(() => this.dirty);
    }
    await condition(allHandlersFinished);
    await this.notifyEnd();
    if (this.failure) throw this.failure;
    return this.finish();
  }

  /**
   * run-finished for every run that ends, and run-problems when items failed or were blocked or the run
   * fails (a guard crossed, discovery failed). Every deletion is over by now; the end waits for the
   * sends (bounded by their 30 s schedule-to-close) so that completing does not drop them.
   */
  private async notifyEnd(): Promise<void> {
    const { counts } = this.progress();
    await raiseEvent('run-finished', {});
    if (counts.failed + counts.blocked > 0 || this.failure)
      await raiseEvent('run-problems', {
        ...(this.failure ? { reason: innermostMessage(this.failure) } : {}),
      });
    await notificationsSent();
  }

  /** Search attributes and memo at the start, so a running run can be found in the Web UI. */
  private async begin(): Promise<void> {
    upsertSearchAttributes([{ key: SA.dryRun, value: this.request.dryRun }]);
    upsertMemo({ label: this.request.label ?? '', dryRun: this.request.dryRun });
    if (this.request.items?.length) {
      await this.ensureAccounts(this.request.items);
      await this.addBatches(this.request.items);
    }
    if (this.request.policy) await this.discover();
    if (this.sealed) upsertSearchAttributes([{ key: SA.total, value: this.batches.totalItems() }]);
    if (this.state === 'starting') this.state = 'running'; // a pause that arrived meanwhile stands
  }

  private carry(): RunCarry {
    return {
      request: { ...this.request, items: [] },
      ...(this.plan ? { plan: this.plan } : {}),
      ...(this.guardViolations ? { guardViolations: this.guardViolations } : {}),
      accounts: this.accounts,
      batches: this.batches.entries,
      finished: this.batches.finished,
      sealed: this.sealed,
      state: this.state,
      startedAt: this.startedAt,
      cancelled: this.cancelled,
      ...(this.cancelReason ? { cancelReason: this.cancelReason } : {}),
      ...(Object.keys(this.batches.tally).length ? { tally: this.batches.tally } : {}),
      ...(this.guardsChecked ? { guardsChecked: true } : {}),
      ...(this.recordsPlan ? { approval: this.gate.c } : {}),
    };
  }

  /** The Web UI's "current details" of the run (workflows/current-details.ts); no history cost. */
  private showDetails(force = false): void {
    const shape = `${this.gate.state}|${this.state}|${this.sealed}|${this.cancelled}|${this.batches.entries.filter((b) => b.done).length}`;
    this.details.refresh(
      shape,
      () =>
        renderRunDetails(this.progress(), {
          workflowId: this.workflowId,
          sealed: this.sealed,
          firstProblems: this.batches.firstProblems(),
          ...(this.cancelReason ? { cancelReason: this.cancelReason } : {}),
          ...(this.gate.awaiting ? { approval: { planHash: this.gate.c.planHash! } } : {}),
        }),
      force,
    );
  }

  private finish(): RunSummary {
    this.state = 'completed';
    this.showDetails(true);
    const p = this.progress();
    upsertSearchAttributes([
      { key: SA.deleted, value: p.counts.deleted },
      { key: SA.problems, value: p.counts.failed + p.counts.blocked },
      { key: SA.total, value: p.total },
    ]);
    const perProvider: Record<string, OutcomeCounts> = {};
    for (const a of Object.values(p.perAccount))
      addCounts((perProvider[a.provider] ??= emptyCounts()), a.counts);
    const finishedAt = new Date().toISOString();
    upsertMemo({ counts: p.counts, cancelled: this.cancelled, finishedAt });
    return {
      workflowId: this.workflowId,
      dryRun: this.request.dryRun,
      ...(this.request.label ? { label: this.request.label } : {}),
      cancelled: this.cancelled,
      ...(this.cancelled && this.cancelReason ? { cancelReason: this.cancelReason } : {}),
      total: p.total,
      counts: p.counts,
      perAccount: p.perAccount,
      perProvider,
      firstProblems: this.batches.firstProblems(),
      ...(this.plan ? { plan: this.plan } : {}),
      ...(this.guardViolations?.length ? { guardViolations: this.guardViolations } : {}),
      batchWorkflowIds: this.batches.entries.map((_, n) => this.idOf(n)),
      startedAt: this.startedAt,
      finishedAt,
    };
  }
}

/** The message of an error's innermost cause ("Activity task failed" wraps the one that says why). */
function innermostMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : 'the run failed';
}

/**
 * The live "current details" of a run and of a lane: markdown the Web UI shows on the execution's
 * page and `temporal workflow metadata` prints. Set with setCurrentDetails, which costs no history
 * event: the text is only sent when someone asks (it rides on the built-in metadata query).
 *
 * Rendering is kept to at most one every DETAILS_EVERY_MS of workflow time, plus whenever the coarse
 * shape changes (state, paused, idle, breaker): a busy run handles a batch report every few hundred
 * milliseconds, and the table need not be rebuilt for each. Workflow time only moves on an activation,
 * so a change of shape is what guarantees a paused or finished run never shows a stale state.
 */
import { setCurrentDetails } from '@temporalio/workflow';
import type { ItemOutcome } from '../contract/model';
import type { LaneStatus, RunProgress } from '../contract/messages';

export const DETAILS_EVERY_MS = 3_000;

/** Problems listed in a run's details (the full list is in the report). */
const PROBLEMS_SHOWN = 5;

export class CurrentDetails {
  private lastAt = -Infinity;
  private lastShape?: string;

  /** Renders and sets the details when due or when `shape` changed; `force` always does. */
  refresh(shape: string, render: () => string, force = false): void {
    const now = Date.now();
    if (!force && shape === this.lastShape && now - this.lastAt < DETAILS_EVERY_MS) return;
    this.lastAt = now;
    this.lastShape = shape;
    setCurrentDetails(render());
  }
}

export interface RunDetailsExtras {
  workflowId: string;
  sealed: boolean;
  firstProblems: ItemOutcome[];
  cancelReason?: string;
  /** While awaiting approval: the plan's hash (the approval flow fills this in). */
  approval?: { planHash: string };
}

const STATE_TEXT: Record<string, string> = {
  starting: 'starting',
  running: 'running',
  paused: 'PAUSED',
  cancelling: 'cancelling',
  completed: 'completed',
  awaitingApproval: 'AWAITING APPROVAL',
  'awaiting-approval': 'AWAITING APPROVAL',
};

function etaText(seconds: number | null): string {
  if (seconds === null) return 'unknown yet';
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 360) / 10} h`;
}

/** Table cells must not break the table: no pipes or new lines from provider messages. */
const cell = (s: string) =>
  s
    .replace(/[|\r\n]+/g, ' ')
    .replace(/\s+/g, ' ')
    .slice(0, 160);

export function renderRunDetails(p: RunProgress, x: RunDetailsExtras): string {
  const state = STATE_TEXT[p.state] ?? p.state;
  const lines = [
    `**State: ${state}**${p.dryRun ? ' · DRY RUN' : ' · EXECUTE'}${p.label ? ` · ${cell(p.label)}` : ''}`,
    '',
    `Done ${p.done} of ${p.total}${x.sealed ? '' : ' (more items may follow)'} · in flight ${p.inFlight} · batches: ${p.batches.done} of ${p.batches.total} done, ${p.batches.active} active`,
    '',
    `Rate ${p.ratePerMinute}/min · ETA ${p.state === 'completed' ? 'done' : etaText(p.etaSeconds)}`,
    '',
  ];
  if (p.state === 'paused')
    lines.push(
      `Paused: no new deletions start. Resume with the \`resume\` signal (Web UI: Send a Signal, name \`resume\`) or \`retention-cleanup resume ${x.workflowId}\`.`,
      '',
    );
  if (p.state === 'cancelling')
    lines.push(
      `Cancelling${x.cancelReason ? ` (${cell(x.cancelReason)})` : ''}: deletions in progress finish, the rest end skipped.`,
      '',
    );
  if (x.approval)
    lines.push(
      `Awaiting approval of plan \`${x.approval.planHash}\`: query \`plan\`, then send the \`approve\` update with {"planHash": "${x.approval.planHash}", "approver": "NAME"} (Web UI: Send an Update) or \`retention-cleanup approve ${x.workflowId} --plan-hash ${x.approval.planHash} --approver NAME\`.`,
      '',
    );
  lines.push(
    // The batches report items in flight per run, not per account: only the total row has it.
    '| account | provider | deleted | absent | blocked | failed | skipped | in flight |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const [account, a] of Object.entries(p.perAccount).sort(([x1], [x2]) => (x1 < x2 ? -1 : 1))) {
    const c = a.counts;
    lines.push(
      `| ${cell(account)} | ${a.provider} | ${c.deleted} | ${c.absent} | ${c.blocked} | ${c.failed} | ${c.skipped} | · |`,
    );
  }
  const c = p.counts;
  lines.push(
    `| **all** | | ${c.deleted} | ${c.absent} | ${c.blocked} | ${c.failed} | ${c.skipped} | ${p.inFlight} |`,
  );
  if (x.firstProblems.length) {
    lines.push('', 'First problems:');
    for (const o of x.firstProblems.slice(0, PROBLEMS_SHOWN))
      lines.push(`- ${o.outcome} ${cell(o.account)}/${cell(o.id)}: ${cell(o.reason)}`);
  }
  lines.push('', `Updated ${new Date().toISOString()} (workflow time)`);
  return lines.join('\n');
}

export interface LaneDetailsExtras {
  idle: boolean;
  cancelled: boolean;
  /** A misconfigured account's circuit: why, and until when (ISO). */
  misconfigured?: { reason: string; until: string };
}

export function renderLaneDetails(s: LaneStatus, x: LaneDetailsExtras): string {
  const queuedRuns = Object.entries(s.queued);
  const queuedTotal = queuedRuns.reduce((n, [, q]) => n + q, 0);
  const state = x.cancelled ? 'cancelled' : x.idle ? 'idle' : 'working';
  const lines = [
    `**Lane ${s.account}: ${state}**`,
    '',
    `Window ${s.inFlight} of ${s.concurrency} in flight (configured max ${s.maxConcurrent}) · queued ${queuedTotal} · done this execution ${s.completedThisExecution}`,
    '',
  ];
  const b = s.circuitBreaker;
  lines.push(
    b
      ? `Circuit breaker: **${b.state}** (${b.recentFailures} of the last ${b.recentCompleted} failed; trips at ${b.threshold})${b.openUntil ? `, open until ${b.openUntil}` : ''}`
      : 'Circuit breaker: none configured',
  );
  if (x.misconfigured)
    lines.push('', `Misconfigured until ${x.misconfigured.until}: ${cell(x.misconfigured.reason)}`);
  if (queuedRuns.length) {
    lines.push('', '| batch | queued |', '| --- | ---: |');
    for (const [batch, q] of queuedRuns.slice(0, 20)) lines.push(`| ${batch} | ${q} |`);
    if (queuedRuns.length > 20) lines.push(`| … ${queuedRuns.length - 20} more | |`);
  }
  lines.push('', `Updated ${new Date().toISOString()} (workflow time)`);
  return lines.join('\n');
}

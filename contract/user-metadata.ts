/**
 * The static summary (one line) and details (markdown) that every run, batch and lane is started
 * with, and the summaries of deletion activities and timers: what the Web UI shows at the top of an
 * execution and on each event, and `temporal workflow describe` prints. Pure, so the client, the
 * Schedules helper, the run (child starts) and the enqueue activity (signal-with-start) all describe
 * an execution the same way.
 *
 * No credentials or endpoints here: only account names, counts, the label, guards and the policy, all
 * of which are in the request already (README, "Guarantees": no secrets in workflow payloads).
 */
import type { AccountLimits, ItemRef } from './model';

/** What of a request the descriptions use (the parsed request, or the client's validated one). */
export interface DescribedRequest {
  items?: Pick<ItemRef, 'account'>[];
  itemsToFollow?: boolean;
  policy?: { accounts: string[] } & Record<string, unknown>;
  guards?: Record<string, unknown>;
  dryRun?: boolean;
  label?: string;
  [more: string]: unknown;
}

/** Static summaries are one line; the UI cuts long ones, so keep them short. */
const MAX_SUMMARY = 200;

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_SUMMARY ? `${flat.slice(0, MAX_SUMMARY - 1)}…` : flat;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function itemsPerAccount(items: Pick<ItemRef, 'account'>[] = []): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(i.account, (m.get(i.account) ?? 0) + 1);
  return m;
}

/**
 * "EXECUTE: delete 79 backups on 5 accounts (demo)", "DRY RUN: would delete …", "EXECUTE: policy on
 * vbs-prod, csbs-prod (nightly)". `totalItems` is the whole list when the client pages it.
 */
export function runSummary(req: DescribedRequest, totalItems = req.items?.length ?? 0): string {
  const mode = req.dryRun === false ? 'EXECUTE' : 'DRY RUN';
  const label = req.label ? ` (${req.label})` : '';
  if (req.policy) {
    const accounts = req.policy.accounts;
    const named = accounts.length <= 3 ? accounts.join(', ') : plural(accounts.length, 'account');
    return oneLine(`${mode}: retention policy on ${named}${label}`);
  }
  const accounts = itemsPerAccount(req.items).size;
  const verb = req.dryRun === false ? 'delete' : 'would delete';
  const what =
    totalItems || !req.itemsToFollow
      ? `${verb} ${plural(totalItems, 'backup')} on ${plural(accounts, 'account')}`
      : `${verb} backups sent in pages (addItems)`;
  return oneLine(`${mode}: ${what}${req.itemsToFollow && totalItems ? ', more to follow' : ''}${label}`);
}

/** The request's label, mode, accounts, guards and approval as markdown (the "details" box). */
export function runDetails(
  req: DescribedRequest,
  opts: { startedBy?: string; totalItems?: number } = {},
): string {
  const lines: string[] = [];
  lines.push(
    `**${req.dryRun === false ? 'EXECUTE: backups will be deleted' : 'DRY RUN: nothing is deleted'}**`,
  );
  if (req.label) lines.push('', `Label: ${req.label}`);
  if (opts.startedBy) lines.push('', `Started by: ${opts.startedBy}`);
  if (req.policy) {
    const { accounts, ...rules } = req.policy;
    lines.push(
      '',
      `Retention policy on: ${accounts.join(', ')}`,
      '',
      '```json',
      JSON.stringify(rules),
      '```',
    );
  } else {
    const perAccount = itemsPerAccount(req.items);
    const total = opts.totalItems ?? req.items?.length ?? 0;
    lines.push(
      '',
      `Items: ${total}${req.itemsToFollow ? ' (more follow through `addItems`, then `sealItems`)' : ''}`,
    );
    if (perAccount.size) {
      lines.push('', '| account | items |', '| --- | ---: |');
      for (const [a, n] of [...perAccount].sort()) lines.push(`| ${a} | ${n} |`);
    }
  }
  const guards = Object.entries(req.guards ?? {});
  lines.push(
    '',
    guards.length
      ? `Guards: ${guards.map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ')}`
      : 'Guards: none in the request (account ceilings from the worker config still apply)',
  );
  const approval = req.approval ?? req.requireApproval;
  lines.push(
    '',
    approval === undefined || approval === false
      ? 'Approval: not required'
      : `Approval: required (${JSON.stringify(approval)})`,
  );
  lines.push('', 'Live progress: the "Current details" of this run; handlers: docs/handlers.md.');
  return lines.join('\n');
}

/** "batch 3 of run retention-cleanup/…: 500 items". */
export function batchSummary(runWorkflowId: string, n: number, items: number): string {
  return oneLine(`batch ${n + 1} of run ${runWorkflowId}: ${plural(items, 'item')}`);
}

export function batchDetails(
  runWorkflowId: string,
  items: Pick<ItemRef, 'account'>[],
  dryRun: boolean,
): string {
  const lines = [
    `Batch of run \`${runWorkflowId}\`${dryRun ? ' (dry run)' : ''}: its items go to the account lanes.`,
    '',
    '| account | items |',
    '| --- | ---: |',
  ];
  for (const [a, n] of [...itemsPerAccount(items)].sort()) lines.push(`| ${a} | ${n} |`);
  lines.push('', 'Pause, resume or cancel it through its run, not here.');
  return lines.join('\n');
}

/** "lane vbs-prod: max 5 at once". */
export function laneSummary(limits: Pick<AccountLimits, 'name' | 'provider' | 'maxConcurrent'>): string {
  return oneLine(`lane ${limits.name} (${limits.provider}): max ${limits.maxConcurrent} at once`);
}

export function laneDetails(limits: AccountLimits): string {
  return [
    `The account lane of **${limits.name}** (${limits.provider}): every run's deletions on this account go through it, so its limits hold across runs and workers.`,
    '',
    `- max deletions at once: ${limits.maxConcurrent} (lower it with the \`setConcurrency\` update)`,
    `- delete calls started per second: at most ${limits.requestsPerSecond}`,
    `- deletion deadline: ${Math.round(limits.deletionDeadlineMs / 1000)} s`,
    `- circuit breaker: ${limits.circuitBreaker ? JSON.stringify(limits.circuitBreaker) : 'none'}`,
    '',
    'It ends after 5 idle minutes; the next run starts it again.',
  ].join('\n');
}

// ---- activities and timers ----

const shortId = (id: string) => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

/** "delete vbs-prod/5f0c…" */
export function deleteOneSummary(item: Pick<ItemRef, 'account' | 'id'>, resumed = false): string {
  return oneLine(`${resumed ? 'finish deleting' : 'delete'} ${item.account}/${shortId(item.id)}`);
}

/** "delete group of 8 on vbs-prod" */
export function deleteGroupSummary(account: string, n: number, pipelined = false): string {
  return oneLine(`delete group of ${n} on ${account}${pipelined ? ' (pipelined)' : ''}`);
}

/** "send 40 items to the lane of vbs-prod" (the batch's enqueueToLane activity). */
export function enqueueSummary(account: string, n: number, resend = false): string {
  return oneLine(`${resend ? 're-send' : 'send'} ${plural(n, 'item')} to the lane of ${account}`);
}

/** A waiting batch's checkRun activity. */
export const CHECK_RUN_SUMMARY = 'waiting batch: is its run still going?';

export function durationText(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${Math.round(ms / 100) / 10}s`;
  return `${Math.round(ms)}ms`;
}

// ---- timers: what the Web UI shows on each TimerStarted event ----

/**
 * "circuit open: cool-down 5m, until 12:03:07Z". The timer may start after the trip (a wake-up due
 * earlier is reused first), so the end time says when the probe goes, the cool-down what was configured.
 */
export const breakerCoolDownSummary = (coolDownMs: number, until: number) =>
  `circuit open: cool-down ${durationText(coolDownMs)}, until ${new Date(until).toISOString().slice(11, 19)}Z`;
/** "request rate: next delete call in 200ms" */
export const rateWaitSummary = (ms: number) => `request rate: next delete call in ${durationText(ms)}`;
export const flushSummary = (ms: number) => `send finished items to their batches in ${durationText(ms)}`;
export const idleExitSummary = (ms: number) =>
  `idle: the lane ends in ${durationText(ms)} unless work arrives`;
export const laneSilenceSummary = (ms: number) =>
  `lane watchdog: look for silent lanes in ${durationText(ms)}`;
export const waitingRunCheckSummary = (ms: number) =>
  `waiting for a slot: check in ${durationText(ms)} that the run still lives`;

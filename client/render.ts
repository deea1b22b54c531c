/**
 * Human-readable rendering of runs and schedules for the CLI: the progress bar line,
 * the progress block of `status`, the summary table, schedule descriptions. Pure functions on the
 * client's types; no I/O.
 */
import type {
  AccountPlanSummary,
  AccountProgress,
  DeletedBytes,
  RunProgress,
  RunSummary,
} from '../contract/messages';
import { fmtTotalBytes } from '../insight/bytes';
import { OUTCOMES, totalOf, type ItemOutcome, type OutcomeCounts } from '../contract/model';
import type { ScheduleInfo, ScheduleListEntry, ScheduledRun } from './schedules';

const numberFormat = new Intl.NumberFormat('en-US');
export const fmtInt = (n: number): string => numberFormat.format(n);

/** 3725 → "1h 02m", 225 → "3m 45s", 12 → "12s". */
export function fmtSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export function countsText(c: OutcomeCounts): string {
  return OUTCOMES.map((k) => `${k} ${fmtInt(c[k])}`).join(' · ');
}

function bar(done: number, total: number, width: number): string {
  const filled = total > 0 ? Math.min(width, Math.round((width * done) / total)) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function percent(done: number, total: number): string {
  return `${total > 0 ? Math.floor((100 * done) / total) : 0}%`;
}

/** "freed 12.0 GiB + 1 unsized" once a deleted backup had a listed size (issue 19); else nothing. */
function freedText(p: RunProgress): string[] {
  let bytes = 0;
  let unsized = 0;
  for (const a of Object.values(p.perAccount)) {
    bytes += a.deletedBytes?.bytes ?? 0;
    unsized += a.deletedBytes?.unsized ?? 0;
  }
  if (p.counts.deleted <= unsized) return [];
  return [`freed ${fmtTotalBytes({ count: p.counts.deleted, bytes, unsized })}`];
}

/**
 * One line for a progress bar: state, bar, done/total, outcome counts (those above zero), rate and
 * ETA. The most useful parts come first, so a narrow terminal that cuts the line keeps them.
 */
export function progressLine(p: RunProgress, barWidth = 20): string {
  const counts = OUTCOMES.filter((k) => p.counts[k] > 0).map((k) => `${k} ${fmtInt(p.counts[k])}`);
  const parts = [
    `${p.state}${p.dryRun ? ' (dry run)' : ''}`,
    `${bar(p.done, p.total, barWidth)} ${percent(p.done, p.total).padStart(4)}`,
    `${fmtInt(p.done)}/${fmtInt(p.total)}`,
    ...(counts.length ? [counts.join(' · ')] : []),
    ...freedText(p),
  ];
  if (p.inFlight) parts.push(`in flight ${fmtInt(p.inFlight)}`);
  if (p.ratePerMinute) parts.push(`${fmtInt(Math.round(p.ratePerMinute))}/min`);
  if (p.etaSeconds !== null && p.done < p.total) parts.push(`ETA ${fmtSeconds(p.etaSeconds)}`);
  return parts.join('  ');
}

/** A plain-text table: the first row is the header; columns after the first two are right-aligned numbers. */
export function table(rows: string[][], leftColumns = 2): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function accountTable(perAccount: Record<string, AccountProgress>, totals: OutcomeCounts): string {
  // BYTES DELETED (issue 19) once some deleted backup had a listed size: a run whose items carry no
  // sizes (an items request from a list of ids) keeps the table it always had.
  const accounts = Object.entries(perAccount).sort(([a], [b]) => a.localeCompare(b));
  const withBytes = accounts.some(([, a]) => a.deletedBytes && a.counts.deleted > a.deletedBytes.unsized);
  const bytesCell = (d: DeletedBytes | undefined, deleted: number) =>
    withBytes ? [d ? fmtTotalBytes({ count: deleted, bytes: d.bytes, unsized: d.unsized }) : '0 B'] : [];
  const header = [
    'ACCOUNT',
    'PROVIDER',
    ...OUTCOMES.map((k) => k.toUpperCase()),
    'TOTAL',
    ...(withBytes ? ['BYTES DELETED'] : []),
  ];
  const rows = accounts.map(([account, a]) => [
    account,
    a.provider,
    ...OUTCOMES.map((k) => fmtInt(a.counts[k])),
    fmtInt(totalOf(a.counts)),
    ...bytesCell(a.deletedBytes, a.counts.deleted),
  ]);
  const all = accounts.reduce(
    (t, [, a]) => ({
      bytes: t.bytes + (a.deletedBytes?.bytes ?? 0),
      unsized: t.unsized + (a.deletedBytes?.unsized ?? 0),
    }),
    { bytes: 0, unsized: 0 },
  );
  return table([
    header,
    ...rows,
    [
      'TOTAL',
      '',
      ...OUTCOMES.map((k) => fmtInt(totals[k])),
      fmtInt(totalOf(totals)),
      ...bytesCell(all, totals.deleted),
    ],
  ]);
}

/** A policy run's plan per account: what discovery listed and planned, with the bytes to delete. */
function planTable(plan: AccountPlanSummary[]): string {
  const withBytes = plan.some((p) => p.toDeleteBytes !== undefined);
  const bytes = (p: AccountPlanSummary) =>
    withBytes
      ? [
          p.toDeleteBytes === undefined
            ? ''
            : fmtTotalBytes({ count: p.toDelete, bytes: p.toDeleteBytes, unsized: p.toDeleteUnsized ?? 0 }),
        ]
      : [];
  return table(
    [
      ['PLAN', 'LISTED', 'TO DELETE', 'KEPT', 'GROUPS', ...(withBytes ? ['BYTES TO DELETE'] : [])],
      ...plan.map((p) => [
        p.account,
        fmtInt(p.listed),
        fmtInt(p.toDelete),
        fmtInt(p.kept),
        fmtInt(p.groups),
        ...bytes(p),
      ]),
    ],
    1,
  );
}

export function problemLine(o: ItemOutcome): string {
  const item = [o.account, o.checkpointId, o.id].filter(Boolean).join('/');
  return `  ${o.outcome.padEnd(7)}  ${item}  ${o.reason}${o.code && !o.reason.includes(o.code) ? ` (code ${o.code})` : ''}`;
}

/** The progress block of `status` for a running run. */
export function renderProgress(p: RunProgress): string {
  const lines = [
    `Run:       ${p.workflowId}`,
    `State:     ${p.state}${p.dryRun ? ' — DRY RUN (nothing is deleted)' : ''}`,
    ...(p.label ? [`Label:     ${p.label}`] : []),
    `Progress:  ${bar(p.done, p.total, 30)} ${percent(p.done, p.total)}  ${fmtInt(p.done)} of ${fmtInt(p.total)}`,
    `Outcomes:  ${countsText(p.counts)}`,
    `In flight: ${fmtInt(p.inFlight)}   Batches: ${p.batches.active} active, ${p.batches.done} done, ${p.batches.total} total`,
    `Rate:      ${fmtInt(Math.round(p.ratePerMinute))}/min${p.etaSeconds !== null ? `   ETA ${fmtSeconds(p.etaSeconds)}` : ''}`,
    `Started:   ${p.startedAt}`,
  ];
  if (Object.keys(p.perAccount).length) lines.push('', accountTable(p.perAccount, p.counts));
  return lines.join('\n');
}

/** The summary table of a finished run. */
export function renderSummary(s: RunSummary): string {
  const took = (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000;
  const flags = [
    s.dryRun ? 'DRY RUN (nothing was deleted)' : '',
    s.cancelled ? 'CANCELLED (items not yet sent were skipped)' : '',
  ].filter(Boolean);
  const lines = [
    `Run ${s.workflowId}: finished${flags.length ? ` — ${flags.join(', ')}` : ''}`,
    ...(s.label ? [`Label:    ${s.label}`] : []),
    // Why it stopped: a rejected plan or an approval that timed out names itself here.
    ...(s.cancelled && s.cancelReason ? [`Stopped:  ${s.cancelReason}`] : []),
    `Started:  ${s.startedAt}   Finished: ${s.finishedAt}   (${fmtSeconds(took)})`,
    '',
    accountTable(s.perAccount, s.counts),
    ...(s.plan?.length ? ['', planTable(s.plan)] : []),
  ];
  const problems = s.counts.failed + s.counts.blocked;
  if (problems) {
    lines.push(
      '',
      `Problems: ${fmtInt(s.counts.failed)} failed, ${fmtInt(s.counts.blocked)} blocked` +
        (s.firstProblems.length < problems ? ` (first ${s.firstProblems.length} below)` : '') +
        `; every item: retention-cleanup report ${s.workflowId}`,
      ...s.firstProblems.map(problemLine),
    );
  }
  return lines.join('\n');
}

export function renderScheduleInfo(i: ScheduleInfo): string {
  const lines = [
    `Schedule:   ${i.scheduleId}${i.paused ? '  (PAUSED)' : ''}`,
    ...(i.note ? [`Note:       ${i.note}`] : []),
    `Spec:       ${i.spec}`,
    `Request:    ${fmtInt(i.items)} item(s)${i.label ? `, label "${i.label}"` : ''}, ${i.dryRun ? 'DRY RUN (nothing is deleted)' : 'EXECUTE (deletes)'}`,
    `Policies:   overlap ${i.overlap}, catch-up window ${i.catchupWindow}${i.pauseOnFailure ? ', pause on failure' : ''}`,
    `Task queue: ${i.taskQueue}`,
    `Run IDs:    ${i.workflowIdPrefix}-<scheduled time>`,
    `Actions:    ${i.actionsTaken} taken, ${i.skippedOverlap} skipped (overlap), ${i.missedCatchupWindow} missed (catch-up window)`,
    `Next runs:  ${i.nextRuns.slice(0, 3).join(', ') || (i.paused ? '(paused)' : '(none)')}`,
    `Created:    ${i.createdAt}`,
  ];
  if (i.runningWorkflowIds.length) lines.push(`Running:    ${i.runningWorkflowIds.join(', ')}`);
  if (i.recentRuns.length) {
    lines.push('Recent runs:');
    for (const r of i.recentRuns.slice(-10)) lines.push(`  ${r.takenAt}  ${r.workflowId}`);
  }
  return lines.join('\n');
}

export function renderScheduleList(list: ScheduleListEntry[]): string {
  if (!list.length) return '(no retention-cleanup schedules)';
  return table(
    [
      ['SCHEDULE', 'SPEC', 'STATE', 'MODE', 'ITEMS', 'NEXT RUN', 'LAST RUN'],
      ...list.map((s) => [
        s.scheduleId,
        s.spec,
        s.paused ? 'paused' : 'active',
        s.dryRun === false ? 'execute' : 'dry run',
        s.items === undefined ? '' : fmtInt(s.items),
        s.nextRun ?? '',
        s.lastRun?.takenAt ?? '',
      ]),
    ],
    4,
  );
}

export function renderScheduledRuns(runs: ScheduledRun[]): string {
  if (!runs.length) return '(no runs yet; visibility may lag a few seconds)';
  return table(
    [
      ['WORKFLOW ID', 'STATUS', 'STARTED', 'CLOSED'],
      ...runs.map((r) => [r.workflowId, r.status, r.startTime, r.closeTime ?? '']),
    ],
    4,
  );
}

/** The Web UI page of a run. */
export function webUiRunUrl(uiBase: string, namespace: string, workflowId: string): string {
  return `${uiBase.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

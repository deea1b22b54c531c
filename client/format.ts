/** Human-readable renderings of progress and summaries, shared by the CLI and the demo. */
import type { RunProgress, RunSummary } from '../workflows/messages';
import { OUTCOMES, type OutcomeCounts } from '../workflows/model';

export function formatProgressLine(p: RunProgress, width = 30): string {
  const frac = p.total ? p.done / p.total : 0;
  const filled = Math.round(frac * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const eta = p.etaSeconds === null ? '' : ` eta ${formatSeconds(p.etaSeconds)}`;
  const counts = OUTCOMES.filter((k) => p.counts[k]).map((k) => `${k} ${p.counts[k]}`).join(', ');
  return `${bar} ${p.done}/${p.total} ${p.state}${p.inFlight ? `, ${p.inFlight} in flight` : ''}${counts ? ` | ${counts}` : ''} | ${p.ratePerMinute}/min${eta}`;
}

function formatSeconds(s: number): string {
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/** A fixed-width table: one row per account, a total row, then the first problems. */
export function formatSummaryTable(s: RunSummary): string {
  const header = ['account', 'provider', ...OUTCOMES, 'total'];
  const row = (name: string, provider: string, c: OutcomeCounts) => [
    name,
    provider,
    ...OUTCOMES.map((k) => String(c[k])),
    String(OUTCOMES.reduce((n, k) => n + c[k], 0)),
  ];
  const rows = Object.entries(s.perAccount)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, a]) => row(name, a.provider, a.counts));
  rows.push(row('TOTAL', '', s.counts));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const lines = [
    `Run ${s.workflowId}${s.dryRun ? ' (DRY RUN: nothing deleted)' : ''}${s.cancelled ? ' (cancelled)' : ''}`,
    fmt(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(0, -1).map(fmt),
    widths.map((w) => '-'.repeat(w)).join('  '),
    fmt(rows[rows.length - 1]!),
  ];
  if (s.firstProblems.length) {
    lines.push('', 'Items to look at:');
    for (const p of s.firstProblems) {
      lines.push(`  ${p.outcome.padEnd(7)} ${p.account}/${p.checkpointId ? `${p.checkpointId}/` : ''}${p.id}: ${p.reason}${p.code ? ` [${p.code}]` : ''}`);
    }
  }
  return lines.join('\n');
}

export function webUiRunUrl(uiBase: string, namespace: string, workflowId: string): string {
  return `${uiBase.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

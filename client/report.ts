/**
 * Report writers: every item's outcome of a run as JSON Lines or CSV. The outcomes come from
 * `RetentionClient.report()` (the batches' results); these writers only format and stream them, with
 * backpressure, so a 100k-item report never sits in memory as one string.
 *
 * A report given a ReportSummary stands on its own (issue 13 item 3, "Say why"): it opens with the
 * run's workflow id, request hash, approver, start and end and counts per outcome — JSON Lines as a
 * first line `{"type":"summary",...}`, CSV as `#`-comment records before the column header.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { RunSummary } from '../contract/messages';
import { OUTCOMES, type ItemOutcome, type OutcomeCounts } from '../contract/model';
import { REQUEST_HASH_MEMO_KEY } from './request-hash';

export type ReportFormat = 'jsonl' | 'csv';
export const REPORT_FORMATS: readonly ReportFormat[] = ['jsonl', 'csv'];

/**
 * CSV columns, in order. The header line is exactly these names joined by commas. Later columns are
 * added at the end, so scripts reading the first columns by position keep working. `sizeBytes` is the
 * exact size the listing gave; empty when unknown, never 0. `decidedBy`: which activity attempt, or
 * which workflow and why, decided the outcome, and when.
 */
export const CSV_COLUMNS = [
  'account',
  'id',
  'checkpointId',
  'outcome',
  'reason',
  'code',
  'at',
  'sizeBytes',
  'decidedBy',
] as const;
export const CSV_HEADER = CSV_COLUMNS.join(',');

/**
 * Characters that make a spreadsheet read a cell as a formula. Backup ids, codes and messages come
 * from providers and may be hostile (`=HYPERLINK(...)`, `=cmd|...`).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field per RFC 4180: quoted when it holds a comma, a double quote, CR or LF, or leading or
 * trailing white space; inner double quotes are doubled. Missing values are empty fields.
 * A value starting with =, +, -, @, tab or CR gets a leading ' (OWASP's CSV injection guidance), so a
 * spreadsheet shows it as text instead of running it; such values then differ from the provider's by
 * that quote. JSON Lines (jsonlLine) keeps every value exact.
 */
export function csvField(value: string | undefined): string {
  if (value === undefined || value === '') return '';
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]|^\s|\s$/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One outcome as a CSV record (without the line break). */
export function csvRow(o: ItemOutcome): string {
  return CSV_COLUMNS.map((c) => csvField(c === 'sizeBytes' ? o.sizeBytes?.toString() : o[c])).join(',');
}

/** One outcome as a JSON Lines record (without the line break), keys in a stable order. */
export function jsonlLine(o: ItemOutcome): string {
  const out: Record<string, string | number> = { account: o.account, id: o.id };
  if (o.checkpointId !== undefined) out.checkpointId = o.checkpointId;
  if (o.sizeBytes !== undefined) out.sizeBytes = o.sizeBytes;
  out.outcome = o.outcome;
  out.reason = o.reason;
  if (o.code !== undefined) out.code = o.code;
  if (o.at !== undefined) out.at = o.at;
  if (o.decidedBy !== undefined) out.decidedBy = o.decidedBy;
  return JSON.stringify(out);
}

/**
 * Parses CSV text written by csvRow (RFC 4180: quoted fields, doubled quotes, CRLF or LF line ends)
 * into records of strings. For tests and for tools that read reports back.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endField = () => {
    row.push(field);
    field = '';
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') endField();
    else if (ch === '\n' || ch === '\r') {
      endField();
      rows.push(row);
      row = [];
      if (ch === '\r' && text[i + 1] === '\n') i++;
    } else field += ch;
    i++;
  }
  if (field !== '' || row.length) {
    endField();
    rows.push(row);
  }
  return rows;
}

/**
 * What a report says about its run before the items: enough to match it with a change ticket or an
 * audit without Temporal at hand. Fields without a value are null (JSON) or empty (CSV), never left
 * out, so readers find every field in every report.
 */
export interface ReportSummary {
  type: 'summary';
  workflowId: string;
  label: string | null;
  /** sha256 of the request as started (client/request-hash.ts); null when the client did not know it. */
  requestHash: string | null;
  /** Who approved the plan (the run's memo `approval`); null when the run needed no approval. */
  approver: string | null;
  approvalComment: string | null;
  approvedAt: string | null;
  planHash: string | null;
  dryRun: boolean;
  cancelled: boolean;
  cancelReason: string | null;
  startedAt: string;
  finishedAt: string;
  /** Items with an outcome in this report (duplicates merged). */
  total: number;
  counts: OutcomeCounts;
}

/** The summary of a finished run, from its result and its memo (where the approval is recorded). */
export function reportSummary(run: RunSummary, memo: Record<string, unknown> | undefined): ReportSummary {
  const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
  const approval = (memo?.approval ?? {}) as Record<string, unknown>;
  return {
    type: 'summary',
    workflowId: run.workflowId,
    label: text(run.label),
    requestHash: text(memo?.[REQUEST_HASH_MEMO_KEY]),
    approver: text(approval.approver),
    approvalComment: text(approval.comment),
    approvedAt: text(approval.at),
    planHash: text(approval.planHash),
    dryRun: run.dryRun,
    cancelled: run.cancelled,
    cancelReason: text(run.cancelReason),
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    total: run.total,
    counts: Object.fromEntries(OUTCOMES.map((k) => [k, run.counts[k] ?? 0])) as OutcomeCounts,
  };
}

/** The summary as JSON Lines' first line (keys in a stable order). */
export function summaryLine(s: ReportSummary): string {
  return JSON.stringify(s);
}

/**
 * The summary as CSV records before the column header: `#name,value`, one per field, counts as
 * `#deleted,12` etc. A record starting with # is a comment for csv readers that support one
 * (pandas `comment='#'`, DuckDB `comment = '#'`, csv-parse `comment: '#'`, `grep -v '^#'`), and a
 * two-column name/value block at the top of a spreadsheet. Values go through csvField (quoting and
 * the formula guard). No account or column name starts with #, so no item record is taken for one.
 */
export function csvSummaryLines(s: ReportSummary): string[] {
  const fields: [string, string | number | boolean | null][] = [
    ['retention-cleanup report', 'summary'],
    ['workflowId', s.workflowId],
    ['label', s.label],
    ['requestHash', s.requestHash],
    ['approver', s.approver],
    ['approvalComment', s.approvalComment],
    ['approvedAt', s.approvedAt],
    ['planHash', s.planHash],
    ['dryRun', s.dryRun],
    ['cancelled', s.cancelled],
    ['cancelReason', s.cancelReason],
    ['startedAt', s.startedAt],
    ['finishedAt', s.finishedAt],
    ['total', s.total],
    ...OUTCOMES.map((k): [string, number] => [k, s.counts[k]]),
  ];
  return fields.map(([name, v]) => `#${name},${csvField(v === null ? undefined : String(v))}`);
}

/**
 * Reads a CSV report back: the `#` summary records (name → value) and the item records after the
 * column header. For tests and tools; a report without a summary gives an empty `summary`.
 */
export function parseCsvReport(text: string): {
  summary: Record<string, string>;
  header: string[];
  rows: string[][];
} {
  const records = parseCsv(text);
  const summary: Record<string, string> = {};
  let i = 0;
  for (; i < records.length && records[i]![0]!.startsWith('#'); i++)
    summary[records[i]![0]!.slice(1)] = records[i]![1] ?? '';
  return { summary, header: records[i] ?? [], rows: records.slice(i + 1) };
}

/**
 * Formats outcomes as lines of the chosen format: the summary first when given, then (CSV) the
 * column header, then one line per item.
 */
export async function* formatReport(
  outcomes: AsyncIterable<ItemOutcome> | Iterable<ItemOutcome>,
  format: ReportFormat,
  summary?: ReportSummary,
): AsyncGenerator<string> {
  if (summary && format === 'csv') for (const line of csvSummaryLines(summary)) yield `${line}\n`;
  if (summary && format === 'jsonl') yield `${summaryLine(summary)}\n`;
  if (format === 'csv') yield `${CSV_HEADER}\n`;
  for await (const o of outcomes) yield `${format === 'csv' ? csvRow(o) : jsonlLine(o)}\n`;
}

/**
 * Streams the outcomes to `out` in the chosen format (the summary first when given), waiting for
 * `drain` when the stream is full. Returns how many outcomes were written. Does not end the stream.
 */
export async function writeReport(
  outcomes: AsyncIterable<ItemOutcome> | Iterable<ItemOutcome>,
  out: Writable,
  format: ReportFormat,
  summary?: ReportSummary,
): Promise<number> {
  let count = 0;
  const counted = async function* () {
    for await (const o of outcomes) {
      count++;
      yield o;
    }
  };
  let buffer = '';
  const flush = async () => {
    if (!buffer) return;
    const ok = out.write(buffer);
    buffer = '';
    if (!ok) await once(out, 'drain');
  };
  for await (const line of formatReport(counted(), format, summary)) {
    buffer += line;
    if (buffer.length >= 64 * 1024) await flush();
  }
  await flush();
  return count;
}

/** Writes the report to a string (small reports and tests). */
export async function reportToString(
  outcomes: AsyncIterable<ItemOutcome> | Iterable<ItemOutcome>,
  format: ReportFormat,
  summary?: ReportSummary,
): Promise<string> {
  let s = '';
  for await (const line of formatReport(outcomes, format, summary)) s += line;
  return s;
}

/**
 * Report writers: every item's outcome of a run as JSON Lines or CSV. The outcomes come from
 * `RetentionClient.report()` (the batches' results); these writers only format and stream them, with
 * backpressure, so a 100k-item report never sits in memory as one string.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { ItemOutcome } from '../contract/model';

export type ReportFormat = 'jsonl' | 'csv';
export const REPORT_FORMATS: readonly ReportFormat[] = ['jsonl', 'csv'];

/**
 * CSV columns, in order. The header line is exactly these names joined by commas. `sizeBytes` (last,
 * so scripts reading the first columns by position keep working) is the exact size the listing gave;
 * empty when unknown, never 0.
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

/** Formats outcomes as lines of the chosen format; the CSV header comes first. */
export async function* formatReport(
  outcomes: AsyncIterable<ItemOutcome> | Iterable<ItemOutcome>,
  format: ReportFormat,
): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_HEADER}\n`;
  for await (const o of outcomes) yield `${format === 'csv' ? csvRow(o) : jsonlLine(o)}\n`;
}

/**
 * Streams the outcomes to `out` in the chosen format, waiting for `drain` when the stream is full.
 * Returns how many outcomes were written. Does not end the stream.
 */
export async function writeReport(
  outcomes: AsyncIterable<ItemOutcome> | Iterable<ItemOutcome>,
  out: Writable,
  format: ReportFormat,
): Promise<number> {
  let count = -Number(format === 'csv'); // the header is not an outcome
  let buffer = '';
  const flush = async () => {
    if (!buffer) return;
    const ok = out.write(buffer);
    buffer = '';
    if (!ok) await once(out, 'drain');
  };
  for await (const line of formatReport(outcomes, format)) {
    buffer += line;
    count++;
    if (buffer.length >= 64 * 1024) await flush();
  }
  await flush();
  return count;
}

/** Writes the report to a string (small reports and tests). */
export async function reportToString(
  outcomes: AsyncIterable<ItemOutcome> | Iterable<ItemOutcome>,
  format: ReportFormat,
): Promise<string> {
  let s = '';
  for await (const line of formatReport(outcomes, format)) s += line;
  return s;
}

import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fmtInt, table } from '../../render';
import { formatReport, REPORT_FORMATS, reportSummary, type ReportFormat } from '../../report';
import { defineCommand } from '../command';
import { CONNECTION_OPTIONS, withClient } from '../connect';
import { EXIT, UsageError } from '../errors';
import { lazy, print, say } from '../io';
import { checkChartOption } from './what-if';

export const report = defineCommand({
  name: 'report',
  args: ['workflowId'],
  summary: "every item's outcome as JSON Lines or CSV",
  description: `Writes every item's outcome (account, id, checkpointId, outcome, reason, code, at, sizeBytes,
decidedBy), read from the run's batches. Waits for the run to finish. Without --output the report goes
to stdout. sizeBytes is the backup's size as its listing gave it (policy runs); absent/empty when
unknown. decidedBy says which activity attempt (or which workflow, and why) decided it, and when.

The report opens with the run's summary (workflow id, request hash, approver, start, end, counts per
outcome): JSON Lines as a first line {"type":"summary",...}; CSV as "#name,value" records before the
column header (comment lines: pandas comment='#', DuckDB comment='#', or grep -v '^#').
--items-only leaves the summary out (the item records alone, as before).

--chart FILE.png|svg draws the backups and bytes deleted per account; with --chart and no --output,
stdout gets that per-account table (human units) instead of every outcome.`,
  options: {
    format: {
      type: 'string',
      value: 'FMT',
      help: `${REPORT_FORMATS.join(' or ')} (default: csv when --output ends in .csv, else jsonl)`,
    },
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      help: 'write FILE atomically (a temporary file, then a rename)',
    },
    'items-only': {
      type: 'boolean',
      help: 'no summary line / # header: only the item records',
    },
    chart: {
      type: 'string',
      value: 'FILE',
      help: 'draw backups and bytes deleted per account (.png or .svg)',
    },
    ...CONNECTION_OPTIONS,
  },
  async run({ args: { workflowId }, values, help }) {
    const format = (values.format ??
      (values.output && extname(values.output).toLowerCase() === '.csv' ? 'csv' : 'jsonl')) as ReportFormat;
    if (!REPORT_FORMATS.includes(format)) {
      throw new UsageError(
        `--format: expected ${REPORT_FORMATS.join(' or ')}, got "${values.format}"`,
        help(),
      );
    }
    if (values.chart) checkChartOption(values.chart);
    return withClient(values, undefined, async (rc) => {
      const d = await rc.handle(workflowId).describe();
      if (d.status.name === 'RUNNING')
        say(
          `run ${workflowId} is still running; the report is written when it finishes (Ctrl-C to stop waiting)`,
        );
      let count = 0;
      const { RunBytes } = lazy<typeof import('../../../insight/run-bytes')>('insight/run-bytes');
      const bytes = new RunBytes();
      const run = await rc.result(workflowId);
      // Described after the end: the approval is written to the memo while the run waits for it.
      const summary = values['items-only']
        ? undefined
        : reportSummary(run, (await rc.handle(workflowId).describe()).memo);
      const counted = async function* () {
        for await (const o of rc.outcomesOf(run.batchWorkflowIds)) {
          count++;
          bytes.add(o);
          yield o;
        }
      };
      const lines = formatReport(counted(), format, summary);
      if (values.chart && !values.output) {
        for await (const _ of lines); // the outcomes are summed, not printed
        print(table(bytes.tableRows(fmtInt), 1));
        say(`${fmtInt(count)} outcome(s)`);
      } else if (values.output) {
        await writeAtomically(values.output, lines);
        say(`${fmtInt(count)} outcome(s) written to ${values.output} (${format})`);
      } else {
        for await (const line of lines) {
          if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r));
        }
        say(`${fmtInt(count)} outcome(s)`);
      }
      if (values.chart) {
        const chart = lazy<typeof import('../../../insight/chart')>('insight/chart');
        await chart.writeChart(
          chart.accountChartSpec(
            bytes.deletedBars(),
            `Run ${workflowId}: backups and bytes deleted per account`,
          ),
          values.chart,
        );
        say(`chart written to ${values.chart}`);
      }
      return EXIT.OK;
    });
  },
});

/** A temporary file beside the target, then a rename: readers never see half a report. */
async function writeAtomically(path: string, lines: AsyncIterable<string>): Promise<void> {
  const target = resolve(path);
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    await pipeline(Readable.from(lines), createWriteStream(tmp));
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Following a run until it ends (`start --follow`, `schedule trigger --follow`): a progress line on
 * stderr (redrawn on a terminal, one line per query otherwise), then the summary on stdout.
 */
import type { RunSummary } from '../../contract/messages';
import { progressLine, renderSummary } from '../render';
import { errorMessage, type RetentionClient } from '../retention-client';
import { EXIT } from './errors';
import { print, printJson, say } from './io';

export const hasProblems = (s: RunSummary) => s.counts.failed + s.counts.blocked > 0;

/** Spread into the options of a command that can follow the run it starts. */
export const FOLLOW_OPTIONS = {
  follow: {
    type: 'boolean',
    short: 'f',
    help: 'show progress until the run ends, then the summary table;\nexit 1 if any item failed or was blocked',
  },
  interval: {
    type: 'string',
    value: 'DUR',
    help: 'with --follow: time between progress queries (default 2s on a terminal,\n5s otherwise; each query is a billable action on Temporal Cloud)',
  },
} as const;

/** Exit 0, 1 when an item failed or was blocked, 130 when Ctrl-C stopped the following (not the run). */
export async function followRun(
  rc: RetentionClient,
  workflowId: string,
  opts: { json: boolean; intervalMs?: number },
): Promise<number> {
  const tty = Boolean(process.stderr.isTTY);
  const intervalMs = opts.intervalMs ?? (tty ? 2000 : 5000);
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let drawn = false;
  const show = (line: string) => {
    if (tty) {
      const width = Math.max(20, (process.stderr.columns || 120) - 1);
      process.stderr.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
      drawn = true;
    } else say(line);
  };
  try {
    const summary = await rc.follow(workflowId, {
      intervalMs,
      signal: ac.signal,
      onProgress: (p) => show(progressLine(p)),
      onProgressError: (err) =>
        show(`progress unavailable (${errorMessage(err)}); still waiting for the run`),
    });
    if (drawn) process.stderr.write('\r\x1b[2K');
    if (opts.json) printJson(summary);
    else print(renderSummary(summary));
    return hasProblems(summary) ? EXIT.PROBLEMS : EXIT.OK;
  } catch (err) {
    if (drawn) process.stderr.write('\n');
    if (ac.signal.aborted) {
      say(`stopped following; the run goes on. Check it with: retention-cleanup status ${workflowId}`);
      return EXIT.INTERRUPTED;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

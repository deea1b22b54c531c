import { renderProgress, renderSummary } from '../../render';
import type { RunStatus } from '../../retention-client';
import { defineCommand } from '../command';
import { CONNECTION_OPTIONS, withClient } from '../connect';
import { EXIT } from '../errors';
import { hasProblems } from '../follow';
import { print, printJson, say } from '../io';

export const status = defineCommand({
  name: 'status',
  args: ['workflowId'],
  summary: 'progress of a running run, or the summary of a finished one',
  description: `A running run: its progress (the "progress" query). A finished run: its summary table.
Exit 1 when a finished run has failed or blocked items, or did not complete (failed, terminated,
timed out); exit 3 when a running run's progress cannot be read (no worker answering queries?).`,
  options: {
    json: { type: 'boolean', help: 'the status, progress and summary as JSON on stdout' },
    ...CONNECTION_OPTIONS,
  },
  async run({ args: { workflowId }, values }) {
    return withClient(values, undefined, async (rc) => {
      const st = await rc.status(workflowId);
      if (values.json) printJson(st);
      else if (st.progress) print(renderProgress(st.progress));
      else if (st.summary) print(renderSummary(st.summary));
      else print(`Run ${workflowId}: ${st.status}${st.closeTime ? ` at ${st.closeTime}` : ''}`);
      if (st.progressError)
        say(`progress unavailable: ${st.progressError} (is a worker running on the run's task queue?)`);
      if (st.failure) say(`run ${workflowId} did not complete (${st.status}): ${st.failure}`);
      return statusExitCode(st);
    });
  },
});

function statusExitCode(st: RunStatus): number {
  if (st.summary) return hasProblems(st.summary) ? EXIT.PROBLEMS : EXIT.OK;
  if (st.status === 'RUNNING') return st.progress ? EXIT.OK : EXIT.ERROR;
  return EXIT.PROBLEMS; // failed, terminated, timed out, cancelled
}

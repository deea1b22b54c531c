import { defineCommand } from '../command';
import { act, CONNECTION_OPTIONS } from '../connect';

export const pause = defineCommand({
  name: 'pause',
  args: ['workflowId'],
  summary: 'stop sending new deletions (in-flight ones finish)',
  description: `Pauses a run: no new deletions start; deletions already accepted by a provider finish and are
verified. Resume with "retention-cleanup resume <workflowId>".`,
  options: {
    reason: { type: 'string', value: 'TEXT', help: "why (recorded in the run's history)" },
    ...CONNECTION_OPTIONS,
  },
  run: ({ args: { workflowId }, values }) =>
    act(values, async (rc) => {
      await rc.pause(workflowId, values.reason);
      return `pause requested for ${workflowId}: no new deletions start; those in progress finish`;
    }),
});

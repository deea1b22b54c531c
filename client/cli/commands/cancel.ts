import { defineCommand } from '../command';
import { act, CONNECTION_OPTIONS } from '../connect';

export const cancel = defineCommand({
  name: 'cancel',
  args: ['workflowId'],
  summary: 'end a run: unsent items end "skipped", in-flight deletions are verified',
  description: `Cancels a run: items not yet sent to a provider end "skipped"; deletions already accepted are
observed to their end and reported. The run then completes with "cancelled": true.`,
  options: {
    reason: { type: 'string', value: 'TEXT', help: "why (recorded in the run's history)" },
    ...CONNECTION_OPTIONS,
  },
  run: ({ args: { workflowId }, values }) =>
    act(values, async (rc) => {
      await rc.cancel(workflowId, values.reason);
      return `cancel requested for ${workflowId}: unsent items end skipped; deletions in progress are verified`;
    }),
});

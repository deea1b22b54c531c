import { defineCommand } from '../command';
import { act, CONNECTION_OPTIONS } from '../connect';

export const resume = defineCommand({
  name: 'resume',
  args: ['workflowId'],
  summary: 'continue a paused run',
  description: 'Resumes a paused run.',
  options: CONNECTION_OPTIONS,
  run: ({ args: { workflowId }, values }) =>
    act(values, async (rc) => {
      await rc.resume(workflowId);
      return `resume requested for ${workflowId}`;
    }),
});

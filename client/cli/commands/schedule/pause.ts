import { defineCommand } from '../../command';
import { act, CONNECTION_OPTIONS } from '../../connect';

export const pause = defineCommand({
  name: 'schedule pause',
  args: ['scheduleId'],
  summary: 'start no runs until unpaused (running ones go on)',
  description: `Pauses the schedule: it starts no runs until "retention-cleanup schedule unpause <scheduleId>".
Runs it already started go on (pause one with "retention-cleanup pause <workflowId>"), and
"schedule trigger" still starts a run now.`,
  options: {
    note: { type: 'string', value: 'TEXT', help: 'why, shown with the schedule' },
    ...CONNECTION_OPTIONS,
  },
  run: ({ args: { scheduleId }, values }) =>
    act(values, async (rc) => {
      await rc.schedules.pause(scheduleId, values.note);
      return `schedule ${scheduleId} paused`;
    }),
});

import { defineCommand } from '../../command';
import { act, CONNECTION_OPTIONS } from '../../connect';

export const unpause = defineCommand({
  name: 'schedule unpause',
  args: ['scheduleId'],
  summary: 'start runs again on the schedule',
  options: {
    note: { type: 'string', value: 'TEXT', help: 'shown with the schedule' },
    ...CONNECTION_OPTIONS,
  },
  run: ({ args: { scheduleId }, values }) =>
    act(values, async (rc) => {
      await rc.schedules.unpause(scheduleId, values.note);
      return `schedule ${scheduleId} unpaused`;
    }),
});

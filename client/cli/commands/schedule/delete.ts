import { defineCommand } from '../../command';
import { act, CONNECTION_OPTIONS } from '../../connect';

export const remove = defineCommand({
  name: 'schedule delete',
  args: ['scheduleId'],
  summary: 'delete the schedule (runs it started are not affected)',
  options: CONNECTION_OPTIONS,
  run: ({ args: { scheduleId }, values }) =>
    act(values, async (rc) => {
      await rc.schedules.delete(scheduleId);
      return `schedule ${scheduleId} deleted (runs it started are not affected)`;
    }),
});

import { checkId, validateBackfill, type CreateScheduleOptions } from '../../../schedule-options';
import { defineCommand } from '../../command';
import { act, CONNECTION_OPTIONS } from '../../connect';
import { UsageError } from '../../errors';

export const backfill = defineCommand({
  name: 'schedule backfill',
  args: ['scheduleId'],
  summary: 'take the actions it would have taken between --start and --end',
  description: `Takes the actions the schedule would have taken between --start and --end, e.g. after an outage
longer than the catch-up window. Under "skip", backfilled runs that would overlap are dropped: use
--overlap buffer_all to run them one after another.`,
  options: {
    start: { type: 'string', value: 'ISO', help: 'from, an ISO time such as 2026-01-31T00:00:00Z' },
    end: { type: 'string', value: 'ISO', help: 'to, an ISO time' },
    overlap: {
      type: 'string',
      value: 'POLICY',
      help: "overlap policy of the backfill (default: the schedule's)",
    },
    ...CONNECTION_OPTIONS,
  },
  async run({ args: { scheduleId }, values, help }) {
    const { start, end } = values;
    if (start === undefined || end === undefined) {
      throw new UsageError(
        'give the range as --start ISO --end ISO, e.g. --start 2026-01-01T00:00:00Z --end 2026-01-03T00:00:00Z',
        help(),
      );
    }
    const overlap = values.overlap as CreateScheduleOptions['overlap'] | undefined;
    // Checked (ID, times, order, policy) before connecting.
    checkId(scheduleId);
    validateBackfill({ start, end, ...(overlap ? { overlap } : {}) });
    return act(values, async (rc) => {
      await rc.schedules.backfill(scheduleId, { start, end, ...(overlap ? { overlap } : {}) });
      return `backfill of ${scheduleId} from ${start} to ${end} requested; its runs show in "retention-cleanup schedule describe ${scheduleId}"`;
    });
  },
});

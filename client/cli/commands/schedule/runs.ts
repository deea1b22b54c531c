import { renderScheduledRuns } from '../../../render';
import { defineCommand } from '../../command';
import { CONNECTION_OPTIONS, withClient } from '../../connect';
import { EXIT, UsageError } from '../../errors';
import { print, printJson } from '../../io';

export const runs = defineCommand({
  name: 'schedule runs',
  args: ['scheduleId'],
  summary: 'the runs it started (newest first)',
  description: `The runs a schedule started, newest first, from Temporal's visibility store
(TemporalScheduledById).`,
  options: {
    limit: { type: 'string', value: 'N', help: 'at most N runs (default 20)' },
    json: { type: 'boolean', help: 'as JSON on stdout' },
    ...CONNECTION_OPTIONS,
  },
  async run({ args: { scheduleId }, values }) {
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new UsageError(`--limit: expected a positive integer, got "${values.limit}"`);
    return withClient(values, undefined, async (rc) => {
      const started = await rc.schedules.runs(scheduleId, { limit });
      if (values.json) printJson(started);
      else print(renderScheduledRuns(started));
      return EXIT.OK;
    });
  },
});

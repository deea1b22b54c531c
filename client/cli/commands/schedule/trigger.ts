import type { CreateScheduleOptions } from '../../../schedule-options';
import { defineCommand, durationOption } from '../../command';
import { CONNECTION_OPTIONS, withClient } from '../../connect';
import { EXIT } from '../../errors';
import { FOLLOW_OPTIONS, followRun } from '../../follow';
import { print, printJson, say } from '../../io';

export const trigger = defineCommand({
  name: 'schedule trigger',
  args: ['scheduleId'],
  summary: 'start a run now',
  description: `Starts a run now (also while the schedule is paused), under the schedule's overlap policy unless
--overlap is given (so with "skip" no second run starts while one is running). Prints the new run's
workflow ID (waits up to 10s for it); --follow then follows it like "start --follow".`,
  options: {
    overlap: {
      type: 'string',
      value: 'POLICY',
      help: "overlap policy for this run (default: the schedule's)",
    },
    ...FOLLOW_OPTIONS,
    json: { type: 'boolean', help: 'machine-readable output on stdout' },
    ...CONNECTION_OPTIONS,
  },
  async run({ args: { scheduleId }, values }) {
    const intervalMs = durationOption('interval', values.interval);
    return withClient(values, undefined, async (rc) => {
      const overlap = values.overlap as CreateScheduleOptions['overlap'] | undefined;
      const { workflowId } = await rc.schedules.trigger(scheduleId, {
        ...(overlap ? { overlap } : {}),
        waitMs: 10_000,
      });
      if (!workflowId) {
        say(
          `triggered ${scheduleId}, but no new run appeared within 10s (skipped by the overlap policy while a run is going?)`,
        );
        if (values.json) printJson({ scheduleId, workflowId: null });
        return EXIT.OK;
      }
      say(`triggered ${scheduleId}: run ${workflowId}`);
      if (values.follow) return followRun(rc, workflowId, { json: Boolean(values.json), intervalMs });
      if (values.json) printJson({ scheduleId, workflowId });
      else print(workflowId);
      return EXIT.OK;
    });
  },
});

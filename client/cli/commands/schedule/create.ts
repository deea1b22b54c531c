import { renderScheduleInfo } from '../../../render';
import { OVERLAP_POLICIES, validateSchedule, type CreateScheduleOptions } from '../../../schedule-options';
import { defineCommand } from '../../command';
import { CONNECTION_OPTIONS, withClient } from '../../connect';
import { EXIT } from '../../errors';
import { announceMode, requestWithMode } from '../../input';
import { print, printJson, say } from '../../io';

export const create = defineCommand({
  name: 'schedule create',
  args: ['scheduleId', 'request-file'],
  summary: 'a schedule that starts a run with the request, by --cron or --every',
  description: `Creates a Temporal Schedule that starts a cleanup run with the request in the file. Give --cron or
--every. The request is validated (and copied into the schedule) before Temporal is contacted; at
most 1,000 items. Like start, every run is a DRY RUN unless --execute is given.`,
  options: {
    cron: {
      type: 'string',
      multiple: true,
      value: 'EXPR',
      help: 'cron expression, e.g. "0 3 * * *" (03:00 daily) or @daily; repeatable',
    },
    every: { type: 'string', value: 'DUR', help: 'fixed interval, e.g. 24h, 30m, 7d' },
    offset: {
      type: 'string',
      value: 'DUR',
      help: 'with --every: shift, e.g. --every 24h --offset 3h = 03:00 UTC daily',
    },
    timezone: { type: 'string', value: 'TZ', help: 'time zone of --cron, e.g. Europe/Berlin (default UTC)' },
    jitter: { type: 'string', value: 'DUR', help: 'start each run up to DUR late, at random' },
    overlap: {
      type: 'string',
      value: 'POLICY',
      help: `when a run is due while the previous one still runs:\n${OVERLAP_POLICIES.join(', ')} (default skip)`,
    },
    'catchup-window': {
      type: 'string',
      value: 'DUR',
      help: 'how late a missed run (server down) may still start (default 1h)',
    },
    'pause-on-failure': { type: 'boolean', help: 'pause the schedule when a run fails' },
    paused: { type: 'boolean', help: 'create it paused' },
    note: { type: 'string', value: 'TEXT', help: 'a note shown with the schedule' },
    execute: { type: 'boolean', help: 'runs really delete (dryRun: false)' },
    'require-approval': {
      type: 'boolean',
      help: 'every run plans, then waits for "retention-cleanup approve" before deleting\n(README, "Approving deletions")',
    },
    'task-queue': { type: 'string', value: 'Q', help: "the workers' task queue (default retention-cleanup)" },
    json: { type: 'boolean', help: 'print the created schedule as JSON' },
    ...CONNECTION_OPTIONS,
  },
  async run({ args, values }) {
    const execute = Boolean(values.execute);
    const { raw, fileDryRun } = requestWithMode(args['request-file'], execute);
    const cron = values.cron;
    const input: CreateScheduleOptions = {
      scheduleId: args.scheduleId,
      request: raw as CreateScheduleOptions['request'],
      ...(cron ? { cron: cron.length === 1 ? cron[0]! : cron } : {}),
      ...(values.every !== undefined ? { every: values.every } : {}),
      ...(values.offset !== undefined ? { offset: values.offset } : {}),
      ...(values.timezone !== undefined ? { timezone: values.timezone } : {}),
      ...(values.jitter !== undefined ? { jitter: values.jitter } : {}),
      ...(values.overlap !== undefined
        ? { overlap: values.overlap as CreateScheduleOptions['overlap'] }
        : {}),
      ...(values['catchup-window'] !== undefined ? { catchupWindow: values['catchup-window'] } : {}),
      ...(values['pause-on-failure'] ? { pauseOnFailure: true } : {}),
      ...(values.paused ? { paused: true } : {}),
      ...(values.note !== undefined ? { note: values.note } : {}),
      ...(values['require-approval'] ? { requireApproval: true } : {}),
    };
    validateSchedule(input); // before connecting: a bad schedule never needs Temporal
    announceMode(execute, fileDryRun, '--execute: every run of this schedule DELETES backups');
    return withClient(values, values['task-queue'], async (rc) => {
      const info = await rc.schedules.create(input);
      say(`created schedule ${info.scheduleId}: ${info.spec}, ${info.dryRun ? 'dry run' : 'EXECUTE'}`);
      if (values.json) printJson(info);
      else print(renderScheduleInfo(info));
      return EXIT.OK;
    });
  },
});

import { renderScheduleInfo } from '../../../render';
import { defineCommand } from '../../command';
import { CONNECTION_OPTIONS, withClient } from '../../connect';
import { EXIT } from '../../errors';
import { print, printJson } from '../../io';

export const describe = defineCommand({
  name: 'schedule describe',
  args: ['scheduleId'],
  summary: 'its spec, request, policies, next and recent runs',
  options: { json: { type: 'boolean', help: 'as JSON on stdout' }, ...CONNECTION_OPTIONS },
  async run({ args: { scheduleId }, values }) {
    return withClient(values, undefined, async (rc) => {
      const info = await rc.schedules.describe(scheduleId);
      if (values.json) printJson(info);
      else print(renderScheduleInfo(info));
      return EXIT.OK;
    });
  },
});

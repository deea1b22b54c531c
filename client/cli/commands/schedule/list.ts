import { renderScheduleList } from '../../../render';
import { defineCommand } from '../../command';
import { CONNECTION_OPTIONS, withClient } from '../../connect';
import { EXIT } from '../../errors';
import { print, printJson } from '../../io';

export const list = defineCommand({
  name: 'schedule list',
  summary: "the namespace's retention-cleanup schedules",
  description: `Lists the retention-cleanup schedules of the namespace (Temporal's schedule listing is eventually
consistent: a new schedule appears within seconds).`,
  options: { json: { type: 'boolean', help: 'as JSON on stdout' }, ...CONNECTION_OPTIONS },
  async run({ values }) {
    return withClient(values, undefined, async (rc) => {
      const schedules = await rc.schedules.list();
      if (values.json) printJson(schedules);
      else print(renderScheduleList(schedules));
      return EXIT.OK;
    });
  },
});

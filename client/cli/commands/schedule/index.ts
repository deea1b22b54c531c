/** `retention-cleanup schedule <subcommand>`: one file per subcommand, listed here. */
import { defineGroup } from '../../command';
import { backfill } from './backfill';
import { create } from './create';
import { remove } from './delete';
import { describe } from './describe';
import { list } from './list';
import { pause } from './pause';
import { runs } from './runs';
import { trigger } from './trigger';
import { unpause } from './unpause';

export const schedule = defineGroup({
  name: 'schedule',
  aliases: ['schedules'],
  summary: 'Temporal Schedules that start cleanup runs',
  description: 'Temporal Schedules that start cleanup runs; the request file is copied into the schedule.',
  subcommands: [create, list, describe, runs, pause, unpause, trigger, backfill, remove],
  footer: 'Runs get workflow IDs retention-cleanup/scheduled/<scheduleId>-<scheduled time>.',
});

/**
 * Every command of `retention-cleanup`, in the order the main help lists them. Adding a command is a
 * new file in this folder (see ../command.ts) and one line here.
 */
import type { Command } from '../command';
import { approve } from './approve';
import { cancel } from './cancel';
import { dev } from './dev';
import { pause } from './pause';
import { plan } from './plan';
import { reject } from './reject';
import { report } from './report';
import { resume } from './resume';
import { schedule } from './schedule';
import { setupNamespace } from './setup-namespace';
import { simulate } from './simulate';
import { start } from './start';
import { status } from './status';
import { validate } from './validate';
import { worker } from './worker';

/** Headings of the main help, each with its commands. */
export const COMMAND_SECTIONS: ReadonlyArray<readonly [heading: string, commands: readonly Command[]]> = [
  ['runs', [start, status, pause, resume, cancel, report, validate]],
  ['approval and what-if', [plan, approve, reject]],
  ['schedules', [schedule]],
  ['namespace', [setupNamespace]],
  ['processes', [worker, simulate, dev]],
];

export const COMMANDS: readonly Command[] = COMMAND_SECTIONS.flatMap(([, commands]) => commands);

/**
 * Exit codes, and the one place where an error becomes a message on stderr and an exit code.
 * Commands throw (UsageError, InvalidRequestError, Temporal's errors...) or return a code; they never
 * call process.exit.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { InvalidRequestError } from '../request-validation';
import { errorMessage } from '../retention-client';
import { say } from './io';
import { FAILURE } from '../../contract/failure-types';

export const EXIT = { OK: 0, PROBLEMS: 1, USAGE: 2, ERROR: 3, INTERRUPTED: 130 } as const;

/** The exit codes as the main help shows them. */
export const EXIT_HELP = `exit codes: 0 ok; 1 a followed/finished run has failed or blocked items, or the run failed;
            2 invalid input or usage; 3 Temporal unreachable or another error`;

/** Wrong command line or input file: exit 2, with the command's usage when it helps. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** Temporal could not be reached: exit 3. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}

/** The gRPC status code of a Temporal service error (its own, or its cause's). */
export function grpcCode(err: unknown): number | undefined {
  for (const e of [err, (err as { cause?: unknown } | undefined)?.cause]) {
    const code = (e as { code?: unknown } | undefined)?.code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** Prints the error and returns the exit code for it. */
export function reportError(err: unknown): number {
  if ((err as { code?: unknown })?.code?.toString().startsWith('ERR_PARSE_ARGS')) {
    say(`error: ${(err as Error).message}`); // a delegated command's own flags (worker, dev)
    return EXIT.USAGE;
  }
  if (err instanceof UsageError) {
    say(`error: ${err.message}`);
    if (err.usage) say(`\n${err.usage}`);
    return EXIT.USAGE;
  }
  if (err instanceof InvalidRequestError) {
    say(`error: ${err.message.split('\n')[0]}`);
    for (const p of err.problems) say(`  ${p}`);
    return EXIT.USAGE;
  }
  if (err instanceof Error && err.name === 'ConfigError') {
    say(`config error: ${err.message}`);
    return EXIT.USAGE;
  }
  if (err instanceof WorkflowNotFoundError) {
    say(
      `error: no such run: ${err.workflowId ?? ''} (${err.message}). Check the workflow ID and --namespace.`,
    );
    return EXIT.USAGE;
  }
  if (err instanceof ScheduleNotFoundError) {
    say(`error: no schedule "${err.scheduleId}" in this namespace`);
    return EXIT.USAGE;
  }
  if (err instanceof ScheduleAlreadyRunning) {
    say(`error: a schedule "${err.scheduleId}" already exists: delete it first or choose another ID`);
    return EXIT.USAGE;
  }
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    say(`error: a run with workflow ID "${err.workflowId}" is already running: choose another --workflow-id`);
    return EXIT.USAGE;
  }
  if (err instanceof WorkflowFailedError) {
    const type = (err.cause as { type?: string } | undefined)?.type;
    say(`error: the run did not complete: ${errorMessage(err)}`);
    return type === FAILURE.InvalidRequest || type === FAILURE.UnknownAccount ? EXIT.USAGE : EXIT.PROBLEMS;
  }
  if (err instanceof UnreachableError) {
    say(`error: ${err.message}`);
    return EXIT.ERROR;
  }
  if (err instanceof ServiceError && (grpcCode(err) === 3 || grpcCode(err) === 5)) {
    // INVALID_ARGUMENT (e.g. a cron the server refuses) or NOT_FOUND (e.g. the namespace)
    say(`error: ${errorMessage(err)}`);
    return EXIT.USAGE;
  }
  say(`error: ${errorMessage(err)}`);
  if (process.env.RETENTION_DEBUG && err instanceof Error && err.stack) say(err.stack);
  return EXIT.ERROR;
}

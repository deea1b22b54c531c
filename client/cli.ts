/**
 * `retention-cleanup`: the command line, built on RetentionClient. Runs without a build:
 * `npx retention-cleanup ...` (bin/retention-cleanup.cjs registers tsx), `npm run cli -- ...`, or
 * `node --import tsx client/cli.ts ...`.
 *
 * Conventions: data on stdout, messages on stderr. Exit codes: 0 success; 1 a followed or finished
 * run has failed or blocked items (or the run itself failed); 2 invalid input or usage; 3 Temporal
 * unreachable or any other error; 130 interrupted while following (the run goes on).
 * Temporal connection from Temporal's conventions (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE) or --address / --namespace.
 */
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import YAML from 'yaml';
import type { RunSummary } from '../workflows/messages';
import { temporalSettings } from './connection';
import {
  fmtInt,
  progressLine,
  renderProgress,
  renderScheduleInfo,
  renderScheduledRuns,
  renderScheduleList,
  renderSummary,
  table,
} from './render';
import { formatReport, REPORT_FORMATS, type ReportFormat } from './report';
import { InvalidRequestError, validateRequest } from './request-validation';
import { errorMessage, RetentionClient, type RunStatus } from './retention-client';
import {
  checkId,
  OVERLAP_POLICIES,
  parseDuration,
  validateBackfill,
  validateSchedule,
  type CreateScheduleOptions,
} from './schedules';

export const EXIT = { OK: 0, PROBLEMS: 1, USAGE: 2, ERROR: 3, INTERRUPTED: 130 } as const;

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
class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}

const lazyRequire = createRequire(__filename);
/** Heavy modules (worker, simulator, demo) load only for the commands that need them. */
function lazy<T>(id: string): T {
  return lazyRequire(id) as T;
}

const say = (line = '') => process.stderr.write(`${line}\n`);
const print = (line = '') => process.stdout.write(`${line}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

// ---------------------------------------------------------------------------------------------
// help

const CONNECTION_HELP = `connection (defaults from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE and the Temporal profile file; else localhost:7233, "default"):
  --address HOST:PORT       Temporal frontend address
  --namespace NS            Temporal namespace
  --connect-timeout DUR     give up connecting after DUR (default 10s)`;

const HELP: Record<string, string> = {
  main: `usage: retention-cleanup <command> [options]      (every command takes --help)

runs:
  start <request-file>      start a cleanup run (a DRY RUN unless --execute); --follow to watch it
  status <workflowId>       progress of a running run, or the summary of a finished one
  pause <workflowId>        stop sending new deletions (in-flight ones finish)
  resume <workflowId>       continue a paused run
  cancel <workflowId>       end a run: unsent items end "skipped", in-flight deletions are verified
  report <workflowId>       every item's outcome as JSON Lines or CSV
  validate <file>           check a request (or with --config a worker config; --probe to reach its accounts)

schedules:
  schedule create|list|describe|runs|pause|unpause|trigger|backfill|delete

processes:
  worker --config FILE      run a worker (workflows and provider activities)
  simulate [--port N]       run the provider simulator on loopback until Ctrl-C
  dev                       the local demo stack (Temporal dev server, simulator, worker, sample run)

exit codes: 0 ok; 1 a followed/finished run has failed or blocked items, or the run failed;
            2 invalid input or usage; 3 Temporal unreachable or another error

${CONNECTION_HELP}`,

  start: `usage: retention-cleanup start <request.json|request.yaml|-> [options]

Starts a cleanup run with the request in the file ("-" reads stdin), e.g.
  {"label": "nightly", "items": [{"account": "vbs-prod", "id": "5f0c..."}]}
Nothing is deleted unless --execute is given: the file's own "dryRun" is ignored (without --execute
the run is a dry run and every item ends "skipped"). The request is validated before Temporal is
contacted; any number of items (the client sends them in pages of 1,000).

options:
  --execute                 really delete (sets dryRun: false)
  --follow, -f              show progress until the run ends, then the summary table;
                            exit 1 if any item failed or was blocked
  --json                    machine-readable output on stdout (the workflow ID, or with --follow the summary)
  --workflow-id ID          the run's workflow ID (default retention-cleanup/<label>-<random>)
  --task-queue Q            the workers' task queue (default retention-cleanup)
  --interval DUR            with --follow: time between progress queries (default 2s on a terminal,
                            5s otherwise; each query is a billable action on Temporal Cloud)

${CONNECTION_HELP}`,

  status: `usage: retention-cleanup status <workflowId> [--json]

A running run: its progress (the "progress" query). A finished run: its summary table.
Exit 1 when a finished run has failed or blocked items, or did not complete (failed, terminated,
timed out); exit 3 when a running run's progress cannot be read (no worker answering queries?).

${CONNECTION_HELP}`,

  pause: `usage: retention-cleanup pause <workflowId> [--reason TEXT]

Pauses a run: no new deletions start; deletions already accepted by a provider finish and are
verified. Resume with "retention-cleanup resume <workflowId>".

${CONNECTION_HELP}`,

  resume: `usage: retention-cleanup resume <workflowId>

Resumes a paused run.

${CONNECTION_HELP}`,

  cancel: `usage: retention-cleanup cancel <workflowId> [--reason TEXT]

Cancels a run: items not yet sent to a provider end "skipped"; deletions already accepted are
observed to their end and reported. The run then completes with "cancelled": true.

${CONNECTION_HELP}`,

  report: `usage: retention-cleanup report <workflowId> [--format jsonl|csv] [--output FILE]

Writes every item's outcome (account, id, checkpointId, outcome, reason, code, at), read from the
run's batches. Waits for the run to finish. Format: --format, else from the --output extension
(.csv → csv), else jsonl. --output writes FILE atomically (a temporary file, then a rename);
without it the report goes to stdout.

${CONNECTION_HELP}`,

  validate: `usage: retention-cleanup validate <file> [--config [--probe]] [--json]

Checks a cleanup request (or, with --config, a worker config file) without contacting Temporal.
Exit 0 when valid; 2 when invalid, with each problem on its own line naming the field
(e.g. "items[3].id: must not be empty"). For a config, credential references that cannot be
resolved on this machine (unset environment variables, missing files) are reported as warnings.

--probe (with --config) also authenticates to every account and makes one harmless read (the first
page of its backup list), printing per account OK with the time taken, or the exact problem (DNS,
connection refused, TLS, credentials refused, wrong path, timeout) and the config field to fix.
Exit 1 when any account failed. The worker runs the same probe at start and logs it.`,

  worker: `usage: retention-cleanup worker --config FILE [--task-queue NAME] [--identity NAME]

Runs a worker for the retention-cleanup workflows and provider activities until SIGINT/SIGTERM.
--config defaults to $RETENTION_CONFIG.

connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE,
or --address HOST:PORT / --namespace NS`,

  simulate: `usage: retention-cleanup simulate [--port N] [--seed N] [--seed-demo [--write-request FILE]]

Starts the provider simulator (all providers, Huawei IAM, admin API) on 127.0.0.1 and runs it until
Ctrl-C. Prints its URL (first line of stdout) and the admin endpoints.

options:
  --port N                  port to listen on (default 0: a free port; config/demo.yaml expects 7780)
  --seed N                  seed of the fault-injection random generator
  --seed-demo               load the demo backups of config/demo.yaml's accounts
  --write-request FILE      with --seed-demo: write the demo's sample request to FILE`,

  dev: `usage: retention-cleanup dev [--exit]

The local demo stack: Temporal dev server (Web UI on :8233), provider simulator, worker, and a
sample cleanup run with live progress (see scripts/demo.ts). --exit stops after the summary.`,

  schedule: `usage: retention-cleanup schedule <subcommand> [options]

Temporal Schedules that start cleanup runs; the request file is copied into the schedule.
  create <scheduleId> <request-file> (--cron EXPR | --every DUR) [options]
  list [--json]
  describe <scheduleId> [--json]
  runs <scheduleId> [--limit N] [--json]     the runs it started (newest first)
  pause <scheduleId> [--note TEXT]
  unpause <scheduleId> [--note TEXT]
  trigger <scheduleId> [--overlap POLICY] [--follow]   start a run now
  backfill <scheduleId> --start ISO --end ISO [--overlap POLICY]
  delete <scheduleId>

Runs get workflow IDs retention-cleanup/scheduled/<scheduleId>-<scheduled time>.
Run "retention-cleanup schedule <subcommand> --help" for details.

${CONNECTION_HELP}`,

  'schedule create': `usage: retention-cleanup schedule create <scheduleId> <request-file> (--cron EXPR | --every DUR) [options]

Creates a Temporal Schedule that starts a cleanup run with the request in the file. The request is
validated (and copied into the schedule) before Temporal is contacted; at most 1,000 items.
Like start, every run is a DRY RUN unless --execute is given.

options:
  --cron EXPR               cron expression, e.g. "0 3 * * *" (03:00 daily) or @daily; repeatable
  --every DUR               fixed interval, e.g. 24h, 30m, 7d
  --offset DUR              with --every: shift, e.g. --every 24h --offset 3h = 03:00 UTC daily
  --timezone TZ             time zone of --cron, e.g. Europe/Berlin (default UTC)
  --jitter DUR              start each run up to DUR late, at random
  --overlap POLICY          when a run is due while the previous one still runs:
                            ${OVERLAP_POLICIES.join(', ')} (default skip)
  --catchup-window DUR      how late a missed run (server down) may still start (default 1h)
  --pause-on-failure        pause the schedule when a run fails
  --paused                  create it paused
  --note TEXT               a note shown with the schedule
  --execute                 runs really delete (dryRun: false)
  --task-queue Q            the workers' task queue (default retention-cleanup)
  --json                    print the created schedule as JSON

${CONNECTION_HELP}`,

  'schedule trigger': `usage: retention-cleanup schedule trigger <scheduleId> [--overlap POLICY] [--follow] [--json]

Starts a run now, under the schedule's overlap policy unless --overlap is given (so with "skip" no
second run starts while one is running). Prints the new run's workflow ID (waits up to 10s for it);
--follow then follows it like "start --follow".

${CONNECTION_HELP}`,

  'schedule backfill': `usage: retention-cleanup schedule backfill <scheduleId> --start ISO --end ISO [--overlap POLICY]

Takes the actions the schedule would have taken between --start and --end (ISO times such as
2026-01-31T00:00:00Z), e.g. after an outage longer than the catch-up window. Under "skip", backfilled
runs that would overlap are dropped: use --overlap buffer_all to run them one after another.

${CONNECTION_HELP}`,
};

function help(name: string): string {
  return HELP[name] ?? HELP[name.split(' ')[0]!] ?? HELP.main!;
}

// ---------------------------------------------------------------------------------------------
// argument parsing

const connectionOptions = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  'connect-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface ConnectionValues {
  address?: string;
  namespace?: string;
  'connect-timeout'?: string;
}

/** node:util parseArgs, with its errors turned into usage errors showing the command's help. */
function parse<T>(command: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError((err as Error).message, help(command));
  }
}

function positionals(command: string, got: string[], names: string[]): string[] {
  if (got.length < names.length) {
    throw new UsageError(
      `missing ${names
        .slice(got.length)
        .map((n) => `<${n}>`)
        .join(' ')}`,
      help(command),
    );
  }
  if (got.length > names.length)
    throw new UsageError(`unexpected argument "${got[names.length]}"`, help(command));
  return got;
}

function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch {
    throw new UsageError(`--${name}: expected a duration like "500ms", "5s", "10m" or "2h", got "${value}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// input files

/** Reads a JSON or YAML file ("-" = stdin). Unreadable or unparsable input is a usage error (exit 2). */
export function readDataFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  const ext = extname(path).toLowerCase();
  if (ext !== '.yaml' && ext !== '.yml') {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      if (ext === '.json') throw new UsageError(`${path}: not valid JSON: ${(err as Error).message}`);
    }
  }
  try {
    return YAML.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${path}: not valid YAML or JSON: ${(err as Error).message}`);
  }
}

/** The request from a file with dryRun decided by --execute alone. */
function requestWithMode(file: string, execute: boolean): { raw: unknown; fileDryRun: unknown } {
  const raw = readDataFile(file, 'request file');
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { raw, fileDryRun: undefined }; // validation names the problem
  return { raw: { ...raw, dryRun: !execute }, fileDryRun: (raw as Record<string, unknown>).dryRun };
}

/** Tells the user whether anything will be deleted (after validation, before Temporal is contacted). */
function announceMode(
  execute: boolean,
  fileDryRun: unknown,
  executing = '--execute: backups will be DELETED',
): void {
  if (execute) say(executing);
  else {
    say(
      `dry run: nothing will be deleted (add --execute to delete)` +
        (fileDryRun === false ? '; the file\'s "dryRun": false is ignored without --execute' : ''),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// connecting

async function connect(values: ConnectionValues, taskQueue?: string): Promise<RetentionClient> {
  const connectTimeout = durationOption('connect-timeout', values['connect-timeout']);
  const s = temporalSettings({ address: values.address, namespace: values.namespace });
  try {
    return await RetentionClient.connect({
      address: values.address,
      namespace: values.namespace,
      taskQueue,
      ...(connectTimeout !== undefined ? { connectTimeout } : {}),
    });
  } catch (err) {
    throw new UnreachableError(
      `cannot reach Temporal at ${s.address} (namespace "${s.namespace}"): ${errorMessage(err)}\n` +
        'Set TEMPORAL_ADDRESS or --address (and TEMPORAL_API_KEY / TLS settings for Temporal Cloud).',
    );
  }
}

async function withClient<T>(
  values: ConnectionValues,
  taskQueue: string | undefined,
  fn: (rc: RetentionClient) => Promise<T>,
): Promise<T> {
  const rc = await connect(values, taskQueue);
  try {
    return await fn(rc);
  } finally {
    await rc.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// following a run

const hasProblems = (s: RunSummary) => s.counts.failed + s.counts.blocked > 0;

async function followRun(
  rc: RetentionClient,
  workflowId: string,
  opts: { json: boolean; intervalMs?: number },
): Promise<number> {
  const tty = Boolean(process.stderr.isTTY);
  const intervalMs = opts.intervalMs ?? (tty ? 2000 : 5000);
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let drawn = false;
  const show = (line: string) => {
    if (tty) {
      const width = Math.max(20, (process.stderr.columns || 120) - 1);
      process.stderr.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
      drawn = true;
    } else say(line);
  };
  try {
    const summary = await rc.follow(workflowId, {
      intervalMs,
      signal: ac.signal,
      onProgress: (p) => show(progressLine(p)),
      onProgressError: (err) =>
        show(`progress unavailable (${errorMessage(err)}); still waiting for the run`),
    });
    if (drawn) process.stderr.write('\r\x1b[2K');
    if (opts.json) printJson(summary);
    else print(renderSummary(summary));
    return hasProblems(summary) ? EXIT.PROBLEMS : EXIT.OK;
  } catch (err) {
    if (drawn) process.stderr.write('\n');
    if (ac.signal.aborted) {
      say(`stopped following; the run goes on. Check it with: retention-cleanup status ${workflowId}`);
      return EXIT.INTERRUPTED;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// ---------------------------------------------------------------------------------------------
// commands

async function cmdStart(args: string[]): Promise<number> {
  const { values, positionals: pos } = parse('start', () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...connectionOptions,
        execute: { type: 'boolean' },
        follow: { type: 'boolean', short: 'f' },
        json: { type: 'boolean' },
        'workflow-id': { type: 'string' },
        'task-queue': { type: 'string' },
        interval: { type: 'string' },
      },
    }),
  );
  if (values.help) return showHelp('start');
  const [file] = positionals('start', pos, ['request-file']);
  const intervalMs = durationOption('interval', values.interval);
  const { raw, fileDryRun } = requestWithMode(file!, Boolean(values.execute));
  const checked = validateRequest(raw);
  if (!checked.ok) throw new InvalidRequestError(checked.problems, `request in ${file}`);
  const { items, duplicatesMerged, request } = checked.value;
  announceMode(Boolean(values.execute), fileDryRun);
  if (duplicatesMerged) say(`${fmtInt(duplicatesMerged)} duplicate item(s) merged`);

  return withClient(values, values['task-queue'], async (rc) => {
    const workflowId = await rc.start(raw as never, {
      ...(values['workflow-id'] ? { workflowId: values['workflow-id'] } : {}),
      startedBy: 'cli',
    });
    const mode = request.dryRun ? 'dry run' : 'EXECUTE run';
    say(`started ${mode} ${workflowId}: ${fmtInt(items.length)} item(s) on task queue "${rc.taskQueue}"`);
    if (!values.follow) {
      if (values.json)
        printJson({ workflowId, dryRun: request.dryRun, items: items.length, taskQueue: rc.taskQueue });
      else {
        print(workflowId);
        say(`follow it: retention-cleanup status ${workflowId}`);
      }
      return EXIT.OK;
    }
    return followRun(rc, workflowId, { json: Boolean(values.json), intervalMs });
  });
}

function statusExitCode(st: RunStatus): number {
  if (st.summary) return hasProblems(st.summary) ? EXIT.PROBLEMS : EXIT.OK;
  if (st.status === 'RUNNING') return st.progress ? EXIT.OK : EXIT.ERROR;
  return EXIT.PROBLEMS; // failed, terminated, timed out, cancelled
}

async function cmdStatus(args: string[]): Promise<number> {
  const { values, positionals: pos } = parse('status', () =>
    parseArgs({ args, allowPositionals: true, options: { ...connectionOptions, json: { type: 'boolean' } } }),
  );
  if (values.help) return showHelp('status');
  const [workflowId] = positionals('status', pos, ['workflowId']);
  return withClient(values, undefined, async (rc) => {
    const st = await rc.status(workflowId!);
    if (values.json) printJson(st);
    else if (st.progress) print(renderProgress(st.progress));
    else if (st.summary) print(renderSummary(st.summary));
    else print(`Run ${workflowId}: ${st.status}${st.closeTime ? ` at ${st.closeTime}` : ''}`);
    if (st.progressError)
      say(`progress unavailable: ${st.progressError} (is a worker running on the run's task queue?)`);
    if (st.failure) say(`run ${workflowId} did not complete (${st.status}): ${st.failure}`);
    return statusExitCode(st);
  });
}

async function cmdSignal(command: 'pause' | 'resume' | 'cancel', args: string[]): Promise<number> {
  const { values, positionals: pos } = parse(command, () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...connectionOptions,
        ...(command === 'resume' ? {} : { reason: { type: 'string' } as const }),
      },
    }),
  );
  if (values.help) return showHelp(command);
  const [workflowId] = positionals(command, pos, ['workflowId']);
  const reason = (values as { reason?: string }).reason;
  return withClient(values, undefined, async (rc) => {
    if (command === 'pause') {
      await rc.pause(workflowId!, reason);
      say(`pause requested for ${workflowId}: no new deletions start; those in progress finish`);
    } else if (command === 'resume') {
      await rc.resume(workflowId!);
      say(`resume requested for ${workflowId}`);
    } else {
      await rc.cancel(workflowId!, reason);
      say(`cancel requested for ${workflowId}: unsent items end skipped; deletions in progress are verified`);
    }
    return EXIT.OK;
  });
}

async function cmdReport(args: string[]): Promise<number> {
  const { values, positionals: pos } = parse('report', () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: { ...connectionOptions, format: { type: 'string' }, output: { type: 'string', short: 'o' } },
    }),
  );
  if (values.help) return showHelp('report');
  const [workflowId] = positionals('report', pos, ['workflowId']);
  const format = (values.format ??
    (values.output && extname(values.output).toLowerCase() === '.csv' ? 'csv' : 'jsonl')) as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) {
    throw new UsageError(
      `--format: expected ${REPORT_FORMATS.join(' or ')}, got "${values.format}"`,
      help('report'),
    );
  }
  return withClient(values, undefined, async (rc) => {
    const d = await rc.handle(workflowId!).describe();
    if (d.status.name === 'RUNNING')
      say(
        `run ${workflowId} is still running; the report is written when it finishes (Ctrl-C to stop waiting)`,
      );
    let count = 0;
    const counted = async function* () {
      for await (const o of rc.report(workflowId!)) {
        count++;
        yield o;
      }
    };
    const lines = formatReport(counted(), format);
    if (values.output) {
      const target = resolve(values.output);
      const tmp = `${target}.tmp-${process.pid}`;
      try {
        await pipeline(Readable.from(lines), createWriteStream(tmp));
        renameSync(tmp, target);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
      say(`${fmtInt(count)} outcome(s) written to ${values.output} (${format})`);
    } else {
      for await (const line of lines) {
        if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r));
      }
      say(`${fmtInt(count)} outcome(s)`);
    }
    return EXIT.OK;
  });
}

async function cmdValidate(args: string[]): Promise<number> {
  const { values, positionals: pos } = parse('validate', () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'boolean' },
        probe: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) return showHelp('validate');
  if (values.probe && !values.config)
    throw new UsageError('--probe checks the accounts of a worker config: add --config', help('validate'));
  const [file] = positionals('validate', pos, ['file']);
  const raw = readDataFile(file!, values.config ? 'config file' : 'request file');
  return values.config
    ? validateConfigFile(file!, raw, Boolean(values.json), Boolean(values.probe))
    : validateRequestFile(file!, raw, Boolean(values.json));
}

function validateRequestFile(file: string, raw: unknown, json: boolean): number {
  const r = validateRequest(raw);
  if (!r.ok) {
    if (json) printJson({ valid: false, kind: 'request', problems: r.problems });
    say(`${file}: not a valid cleanup request:`);
    for (const p of r.problems) say(`  ${p}`);
    if (raw && typeof raw === 'object' && 'accounts' in raw)
      say('(this looks like a worker config: add --config)');
    return EXIT.USAGE;
  }
  const { items, duplicatesMerged, request, pages } = r.value;
  const accounts = [...new Set(items.map((i) => i.account))].sort();
  if (json) {
    printJson({
      valid: true,
      kind: 'request',
      items: items.length,
      duplicatesMerged,
      pages,
      accounts,
      itemsToFollow: Boolean(request.itemsToFollow),
    });
  } else {
    print(
      `${file}: valid cleanup request: ${fmtInt(items.length)} item(s)` +
        (duplicatesMerged ? ` (${fmtInt(duplicatesMerged)} duplicate(s) merged)` : '') +
        (accounts.length ? ` for account(s) ${accounts.join(', ')}` : '') +
        (request.itemsToFollow ? '; more items to follow' : ''),
    );
  }
  return EXIT.OK;
}

async function validateConfigFile(
  file: string,
  raw: unknown,
  json: boolean,
  probe: boolean,
): Promise<number> {
  const configModule = lazy<typeof import('../worker/config')>('../worker/config');
  const { describeZodIssues } = lazy<typeof import('../workflows/validation')>('../workflows/validation');
  const parsed = configModule.workerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = describeZodIssues(parsed.error);
    if (json) printJson({ valid: false, kind: 'config', problems });
    say(`${file}: not a valid worker config:`);
    for (const p of problems) say(`  ${p}`);
    if (raw && typeof raw === 'object' && 'items' in raw)
      say('(this looks like a cleanup request: drop --config)');
    return EXIT.USAGE;
  }
  const baseDir = dirname(resolve(file));
  const loaded = configModule.parseWorkerConfig(raw, file, baseDir);
  const { config } = loaded;
  // Secrets are never read or printed here; only whether their references resolve on this machine.
  const warnings: string[] = [];
  const checkRef = (path: string, ref: unknown) => {
    if (!ref || typeof ref !== 'object') return;
    const r = ref as { env?: string; file?: string; secret?: string };
    if (r.env !== undefined && !process.env[r.env])
      warnings.push(`${path}: environment variable ${r.env} is not set here (the worker needs it)`);
    if (r.file !== undefined && !existsSync(resolve(baseDir, r.file)))
      warnings.push(`${path}: file ${r.file} does not exist here`);
    if (r.secret !== undefined && config.secretsFile && !existsSync(resolve(baseDir, config.secretsFile))) {
      warnings.push(`${path}: secretsFile ${config.secretsFile} does not exist here`);
    }
  };
  for (const [name, account] of Object.entries(config.accounts)) {
    for (const [k, ref] of Object.entries(account.credentials))
      checkRef(`accounts.${name}.credentials.${k}`, ref);
    const caFile = account.tls?.caFile;
    if (caFile && !existsSync(resolve(baseDir, caFile)))
      warnings.push(`accounts.${name}.tls.caFile: ${caFile} does not exist here`);
  }
  for (const w of warnings) say(`warning: ${w}`);
  const accounts = Object.entries(config.accounts).map(([name, a]) => ({
    name,
    provider: a.provider,
    endpoint: a.endpoint,
    maxConcurrent: a.limits.maxConcurrent,
  }));
  const probed = probe
    ? await lazy<typeof import('../worker/probe')>('../worker/probe').probeAccounts(loaded)
    : undefined;
  if (json)
    printJson({
      valid: true,
      kind: 'config',
      taskQueue: config.taskQueue,
      accounts,
      warnings,
      ...(probed ? { probe: probed } : {}),
    });
  else {
    print(`${file}: valid worker config: task queue "${config.taskQueue}", ${accounts.length} account(s)`);
    for (const a of accounts)
      print(`  ${a.name}: ${a.provider} at ${a.endpoint}, max ${a.maxConcurrent} concurrent`);
    if (probed) print(`\n${renderProbe(probed)}`);
  }
  return probed?.some((r) => !r.ok) ? EXIT.PROBLEMS : EXIT.OK;
}

/** The probe as a table (account, provider, result, time), then each failure's explanation. */
function renderProbe(results: import('../worker/probe').ProbeResult[]): string {
  const rows = results.map((r) => [
    r.account,
    r.provider,
    r.ok ? 'OK' : `FAILED (${r.problem})`,
    `${r.ms} ms`,
  ]);
  const problems = results.filter((r) => !r.ok).map((r) => `  ${r.account}: ${r.message}`);
  return [table([['ACCOUNT', 'PROVIDER', 'RESULT', 'TIME'], ...rows], 3), ...problems].join('\n');
}

async function cmdWorker(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) return showHelp('worker');
  // --address / --namespace reach the worker through Temporal's environment conventions.
  const { values, tokens } = parse('worker', () =>
    parseArgs({
      args,
      strict: false,
      tokens: true,
      options: { address: { type: 'string' }, namespace: { type: 'string' } },
    }),
  );
  if (typeof values.address === 'string') process.env.TEMPORAL_ADDRESS = values.address;
  if (typeof values.namespace === 'string') process.env.TEMPORAL_NAMESPACE = values.namespace;
  const consumed = new Set<number>();
  for (const t of tokens) {
    if (t.kind === 'option' && (t.name === 'address' || t.name === 'namespace')) {
      consumed.add(t.index);
      if (!t.inlineValue && t.value !== undefined) consumed.add(t.index + 1);
    }
  }
  const rest = args.filter((_, i) => !consumed.has(i));
  const { runWorkerProcess } = lazy<typeof import('../worker/main')>('../worker/main');
  await runWorkerProcess(rest).catch((err: unknown) => {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      throw new UsageError((err as Error).message, help('worker'));
    throw err;
  });
  return EXIT.OK;
}

async function cmdSimulate(args: string[]): Promise<number> {
  const { values } = parse('simulate', () =>
    parseArgs({
      args,
      options: {
        port: { type: 'string', default: '0' },
        seed: { type: 'string' },
        'seed-demo': { type: 'boolean' },
        'write-request': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) return showHelp('simulate');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: expected 0-65535, got "${values.port}"`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new UsageError(`--seed: expected an integer, got "${values.seed}"`);
  const { Simulator, PROVIDER_SIMS } = lazy<typeof import('../simulator/server')>('../simulator/server');
  const sim = new Simulator({ port, host: '127.0.0.1', ...(seed !== undefined ? { seed } : {}) });
  if (values['write-request'] && !values['seed-demo'])
    throw new UsageError('--write-request needs --seed-demo', help('simulate'));
  const url = await sim.start();
  print(url);
  if (values['seed-demo']) {
    const { seedDemo } = lazy<typeof import('../simulator/demo-data')>('../simulator/demo-data');
    const items = seedDemo(sim);
    say(
      `seeded the demo backups (config/demo.yaml accounts): ${fmtInt(items.length)} items in the sample request`,
    );
    if (port !== 7780) say('note: config/demo.yaml expects the simulator on port 7780 (--port 7780)');
    if (values['write-request']) {
      writeFileSync(values['write-request'], `${JSON.stringify({ label: 'demo', items }, null, 2)}\n`);
      say(
        `sample request written to ${values['write-request']}: retention-cleanup start ${values['write-request']} --follow`,
      );
    }
  }
  print(
    `providers: ${Object.keys(PROVIDER_SIMS)
      .map((p) => `${url}/${p}`)
      .join('  ')}`,
  );
  print(`huawei IAM: ${url}/iam`);
  print('admin API:');
  for (const [route, what] of [
    [
      'GET  /_admin/counters',
      'delete calls per backup, max concurrent deletions per account, tokens, requests',
    ],
    ['POST /_admin/seed', '{"provider": "vbs", "scope": "<project>", "backups": [...]}'],
    ['GET  /_admin/backups?provider=P&scope=S', 'what a provider holds'],
    [
      'PUT  /_admin/faults',
      '{"rules": [{"provider": "vbs", "method": "DELETE", "rate": 0.3, "fault": {"kind": "status", "status": 503}}]}',
    ],
    ['PUT  /_admin/timings', '{"deleteMs": {"vbs": 1500}}'],
    ['POST /_admin/revoke-tokens', 'expire every Huawei token'],
    ['POST /_admin/reset', 'forget backups, faults and counters'],
  ] as const) {
    const [method, path] = route.split(/\s+/);
    print(`  ${method!.padEnd(4)} ${url}${path}   ${what}`);
  }
  say('simulator running; Ctrl-C to stop');
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await sim.stop();
  say('simulator stopped');
  return EXIT.OK;
}

async function cmdDev(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) return showHelp('dev');
  const demoPath = resolve(__dirname, '..', 'scripts', 'demo.ts');
  if (!existsSync(demoPath)) {
    say('the demo stack is not available in this checkout (scripts/demo.ts is missing).');
    say(
      'Meanwhile: "retention-cleanup simulate", a Temporal dev server, and "retention-cleanup worker --config FILE".',
    );
    return EXIT.ERROR;
  }
  const demo = lazy<{ runDemo?: (argv: string[]) => Promise<number | void> }>(demoPath);
  if (typeof demo.runDemo !== 'function') {
    say('scripts/demo.ts does not export runDemo(argv) yet.');
    return EXIT.ERROR;
  }
  const code = await demo.runDemo(args);
  return typeof code === 'number' ? code : EXIT.OK;
}

// ---- schedules ----

async function cmdSchedule(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (!subcommand || subcommand === '--help' || subcommand === '-h' || subcommand === 'help') {
    return showHelp('schedule', subcommand ? EXIT.OK : EXIT.USAGE);
  }
  const name = `schedule ${subcommand}`;
  const sub = <T>(fn: () => T) => parse(name, fn);
  const base = { args: rest, allowPositionals: true } as const;

  switch (subcommand) {
    case 'create': {
      const { values, positionals: pos } = parse(name, () =>
        parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            ...connectionOptions,
            cron: { type: 'string', multiple: true },
            every: { type: 'string' },
            offset: { type: 'string' },
            timezone: { type: 'string' },
            jitter: { type: 'string' },
            overlap: { type: 'string' },
            'catchup-window': { type: 'string' },
            'pause-on-failure': { type: 'boolean' },
            paused: { type: 'boolean' },
            note: { type: 'string' },
            execute: { type: 'boolean' },
            'task-queue': { type: 'string' },
            json: { type: 'boolean' },
          },
        }),
      );
      if (values.help) return showHelp(name);
      const [scheduleId, file] = positionals(name, pos, ['scheduleId', 'request-file']);
      const { raw, fileDryRun } = requestWithMode(file!, Boolean(values.execute));
      const input: CreateScheduleOptions = {
        scheduleId: scheduleId!,
        request: raw as CreateScheduleOptions['request'],
        ...(values.cron ? { cron: values.cron.length === 1 ? values.cron[0]! : values.cron } : {}),
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
      };
      validateSchedule(input); // before connecting: a bad schedule never needs Temporal
      announceMode(
        Boolean(values.execute),
        fileDryRun,
        '--execute: every run of this schedule DELETES backups',
      );
      return withClient(values, values['task-queue'], async (rc) => {
        const info = await rc.schedules.create(input);
        say(`created schedule ${info.scheduleId}: ${info.spec}, ${info.dryRun ? 'dry run' : 'EXECUTE'}`);
        if (values.json) printJson(info);
        else print(renderScheduleInfo(info));
        return EXIT.OK;
      });
    }
    case 'list': {
      const { values, positionals: pos } = sub(() =>
        parseArgs({ ...base, options: { ...connectionOptions, json: { type: 'boolean' } } }),
      );
      if (values.help) return showHelp(name);
      positionals(name, pos, []);
      return withClient(values, undefined, async (rc) => {
        const list = await rc.schedules.list();
        if (values.json) printJson(list);
        else print(renderScheduleList(list));
        return EXIT.OK;
      });
    }
    case 'describe': {
      const { values, positionals: pos } = sub(() =>
        parseArgs({ ...base, options: { ...connectionOptions, json: { type: 'boolean' } } }),
      );
      if (values.help) return showHelp(name);
      const [id] = positionals(name, pos, ['scheduleId']);
      return withClient(values, undefined, async (rc) => {
        const info = await rc.schedules.describe(id!);
        if (values.json) printJson(info);
        else print(renderScheduleInfo(info));
        return EXIT.OK;
      });
    }
    case 'runs': {
      const { values, positionals: pos } = sub(() =>
        parseArgs({
          ...base,
          options: { ...connectionOptions, json: { type: 'boolean' }, limit: { type: 'string' } },
        }),
      );
      if (values.help) return showHelp(name);
      const [id] = positionals(name, pos, ['scheduleId']);
      const limit = values.limit === undefined ? 20 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new UsageError(`--limit: expected a positive integer, got "${values.limit}"`);
      return withClient(values, undefined, async (rc) => {
        const runs = await rc.schedules.runs(id!, { limit });
        if (values.json) printJson(runs);
        else print(renderScheduledRuns(runs));
        return EXIT.OK;
      });
    }
    case 'pause':
    case 'unpause': {
      const { values, positionals: pos } = sub(() =>
        parseArgs({ ...base, options: { ...connectionOptions, note: { type: 'string' } } }),
      );
      if (values.help) return showHelp(name);
      const [id] = positionals(name, pos, ['scheduleId']);
      return withClient(values, undefined, async (rc) => {
        if (subcommand === 'pause') await rc.schedules.pause(id!, values.note as string | undefined);
        else await rc.schedules.unpause(id!, values.note as string | undefined);
        say(`schedule ${id} ${subcommand === 'pause' ? 'paused' : 'unpaused'}`);
        return EXIT.OK;
      });
    }
    case 'trigger': {
      const { values, positionals: pos } = sub(() =>
        parseArgs({
          ...base,
          options: {
            ...connectionOptions,
            overlap: { type: 'string' },
            follow: { type: 'boolean', short: 'f' },
            json: { type: 'boolean' },
            interval: { type: 'string' },
          },
        }),
      );
      if (values.help) return showHelp(name);
      const [id] = positionals(name, pos, ['scheduleId']);
      const intervalMs = durationOption('interval', values.interval as string | undefined);
      return withClient(values, undefined, async (rc) => {
        const overlap = values.overlap as CreateScheduleOptions['overlap'] | undefined;
        const { workflowId } = await rc.schedules.trigger(id!, {
          ...(overlap ? { overlap } : {}),
          waitMs: 10_000,
        });
        if (!workflowId) {
          say(
            `triggered ${id}, but no new run appeared within 10s (skipped by the overlap policy while a run is going?)`,
          );
          if (values.json) printJson({ scheduleId: id, workflowId: null });
          return EXIT.OK;
        }
        say(`triggered ${id}: run ${workflowId}`);
        if (values.follow) return followRun(rc, workflowId, { json: Boolean(values.json), intervalMs });
        if (values.json) printJson({ scheduleId: id, workflowId });
        else print(workflowId);
        return EXIT.OK;
      });
    }
    case 'backfill': {
      const { values, positionals: pos } = sub(() =>
        parseArgs({
          ...base,
          options: {
            ...connectionOptions,
            start: { type: 'string' },
            end: { type: 'string' },
            overlap: { type: 'string' },
          },
        }),
      );
      if (values.help) return showHelp(name);
      const [id] = positionals(name, pos, ['scheduleId']);
      if (typeof values.start !== 'string' || typeof values.end !== 'string') {
        throw new UsageError(
          'give the range as --start ISO --end ISO, e.g. --start 2026-01-01T00:00:00Z --end 2026-01-03T00:00:00Z',
          help(name),
        );
      }
      const overlap = values.overlap as CreateScheduleOptions['overlap'] | undefined;
      const { start, end } = values;
      // Checked (ID, times, order, policy) before connecting.
      checkId(id!);
      validateBackfill({ start, end, ...(overlap ? { overlap } : {}) });
      return withClient(values, undefined, async (rc) => {
        await rc.schedules.backfill(id!, { start, end, ...(overlap ? { overlap } : {}) });
        say(
          `backfill of ${id} from ${start} to ${end} requested; its runs show in "retention-cleanup schedule describe ${id}"`,
        );
        return EXIT.OK;
      });
    }
    case 'delete': {
      const { values, positionals: pos } = sub(() => parseArgs({ ...base, options: connectionOptions }));
      if (values.help) return showHelp(name);
      const [id] = positionals(name, pos, ['scheduleId']);
      return withClient(values, undefined, async (rc) => {
        await rc.schedules.delete(id!);
        say(`schedule ${id} deleted (runs it started are not affected)`);
        return EXIT.OK;
      });
    }
    default:
      throw new UsageError(`unknown schedule subcommand "${subcommand}"`, help('schedule'));
  }
}

function showHelp(name: string, code: number = EXIT.OK): number {
  (code === EXIT.OK ? print : say)(help(name));
  return code;
}

// ---------------------------------------------------------------------------------------------
// errors → exit codes

function grpcCode(err: unknown): number | undefined {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'number' ? cause.code : undefined;
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
    return type === 'InvalidRequest' || type === 'UnknownAccount' ? EXIT.USAGE : EXIT.PROBLEMS;
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

// ---------------------------------------------------------------------------------------------
// main

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  start: cmdStart,
  status: cmdStatus,
  pause: (a) => cmdSignal('pause', a),
  resume: (a) => cmdSignal('resume', a),
  cancel: (a) => cmdSignal('cancel', a),
  report: cmdReport,
  validate: cmdValidate,
  worker: cmdWorker,
  simulate: cmdSimulate,
  dev: cmdDev,
  schedule: cmdSchedule,
  schedules: cmdSchedule,
};

/** Runs the CLI with the given arguments (without "node" and the script) and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? args.join(' ') : '';
    return showHelp(topic || 'main', command ? EXIT.OK : EXIT.USAGE);
  }
  if (command === '--version' || command === '-v') {
    const pkg = lazy<{ version: string }>('../package.json');
    print(pkg.version);
    return EXIT.OK;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new UsageError(`unknown command "${command}"`, HELP.main);
    return await run(args);
  } catch (err) {
    return reportError(err);
  }
}

/** Entry for bin/retention-cleanup.cjs and `node --import tsx client/cli.ts`. */
export function main(argv = process.argv.slice(2)): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); // e.g. `| head`
  });
  runCli(argv).then(
    (code) => {
      process.exitCode = code;
      // Anything still holding the event loop (a gRPC channel closing) must not hold the exit.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.exitCode = reportError(err);
    },
  );
}

if (require.main === module) main();

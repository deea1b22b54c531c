/**
 * Replays recorded histories (test/histories/*.json, made by `npx tsx scripts/record-histories.ts`)
 * against the current workflow code: a change that would make running workflows non-deterministic
 * (commands in another order, a removed signal handler, a timer more or less) fails here, before it
 * reaches a worker that runs them. Covers a paged run with deletions, pause and resume, its batch, a
 * dry run, a cancelled run and its batch, and an account lane. Beyond the commands, each activity the
 * replayed code schedules must carry the input the recorded execution sent.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type InjectedSinks } from '@temporalio/worker';
import { historyFromFile } from './helpers/history-files';
import type { ReplayProbeSinks } from './helpers/replay-probe';

// Replay failures surface as assertion messages below; the worker's own INFO lines are noise here.
Runtime.install({ logger: new DefaultLogger('ERROR') });

const DIR = join(__dirname, 'histories');
/**
 * Not re-recorded, kept so the patched() paths for executions still open during an upgrade stay
 * tested: lane-before-groups (one activity per item, before 'grouped-deletions'), lane-before-pipeline
 * (plain groups and a run's batches round-robin, before 'pipelined-groups' and 'oldest-batch-first')
 * and run-before-activation (batches activated in index order, before 'account-aware-activation').
 * run-notified and lane-notified (the notifications patch: run-finished and run-problems at a run's
 * end, circuit-open from a misconfigured account's lane) come from scripts/record-notification-histories.ts.
 * run-account-batches: the paged run recorded after 'account-batches' (batches cut by account and
 * activated by idle accounts); run-deletions, run-dry and run-cancelled were recorded before it and
 * replay through the old branch.
 */
const EXPECTED = [
  'batch-cancelled',
  'batch-deletions',
  'lane-before-groups',
  'lane-before-hand-over',
  'lane-before-pipeline',
  'lane-notified',
  'lane',
  'run-account-batches',
  'run-approved',
  'run-before-activation',
  'run-cancelled',
  'run-deletions',
  'run-dry',
  'run-notified',
  'run-rejected',
];

interface ScheduledActivity {
  activityType: string;
  /** The arguments as they travel: through the JSON payload converter, so `undefined` fields vanish. */
  args: unknown;
}

/** What the recorded execution sent: each ActivityTaskScheduled event's type and decoded input. */
function recordedActivities(history: temporal.api.history.v1.IHistory): ScheduledActivity[] {
  return (history.events ?? []).flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (!scheduled) return [];
    const args = (scheduled.input?.payloads ?? []).map((p) => defaultPayloadConverter.fromPayload(p));
    return [{ activityType: scheduled.activityType?.name ?? '', args }];
  });
}

/**
 * Input fields an old history may carry differently, each with why that is harmless. Keep it short:
 * everything not listed here must be sent exactly as recorded.
 */
const TOLERATED: Record<string, { field: string[]; why: string }[]> = {
  'lane-before-hand-over': [
    {
      field: ['pipeline', 'startWithinMs'],
      why: 'the pipeline window got its jitter after this history was recorded; a timing hint for how soon a group starts its requests, not what it deletes',
    },
  ],
};

function withoutTolerated(name: string, activity: ScheduledActivity): ScheduledActivity {
  const copy = JSON.parse(JSON.stringify(activity)) as ScheduledActivity;
  for (const { field } of TOLERATED[name] ?? []) {
    for (const arg of copy.args as Record<string, unknown>[]) {
      let at: unknown = arg;
      for (const key of field.slice(0, -1)) at = (at as Record<string, unknown> | undefined)?.[key];
      if (at && typeof at === 'object') delete (at as Record<string, unknown>)[field.at(-1)!];
    }
  }
  return copy;
}

const asSent = (args: unknown[]): unknown => JSON.parse(JSON.stringify(args)) as unknown;

void test('recorded histories replay against the current workflow code', async () => {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  assert.deepEqual(
    files.map((f) => f.replace(/\.json$/, '')),
    EXPECTED,
    'the recorded set (regenerate with npx tsx scripts/record-histories.ts)',
  );
  const histories = files.map((f) => historyFromFile(readFileSync(join(DIR, f), 'utf8')));
  histories.forEach((h, i) => assert.ok((h.history.events?.length ?? 0) > 5, `${files[i]} has events`));
  // One bundle with the probe (test/helpers/replay-probe.ts) that reports what the replayed code
  // schedules; each history replays on its own so its list is its own.
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: [require.resolve('./helpers/replay-probe')],
  });
  const replayed: string[] = [];
  for (const [i, h] of histories.entries()) {
    const name = files[i]!.replace(/\.json$/, '');
    const scheduled: ScheduledActivity[] = [];
    const sinks: InjectedSinks<ReplayProbeSinks> = {
      replayProbe: {
        activityScheduled: {
          fn: (_info, activityType, args) => void scheduled.push({ activityType, args: asSent(args) }),
          callDuringReplay: true,
        },
      },
    };
    try {
      await Worker.runReplayHistory({ workflowBundle: { code }, sinks }, h.history, h.workflowId);
    } catch (err) {
      assert.fail(`${name} did not replay: ${String(err)}`);
    }
    // Same commands is not enough: the same activities with the same inputs, in the same order.
    // Same commands is not enough: the same activities with the same inputs, in the same order.
    assert.deepEqual(
      scheduled.map((a) => withoutTolerated(name, a)),
      recordedActivities(h.history).map((a) => withoutTolerated(name, a)),
      `${name}: what the code sends changed (gate the change behind a patch, or re-record)`,
    );
    replayed.push(name);
  }
  assert.deepEqual(replayed.sort(), [...EXPECTED].sort());
});

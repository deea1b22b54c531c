/**
 * Replays recorded histories (test/histories/*.json, made by `npx tsx scripts/record-histories.ts`)
 * against the current workflow code: a change that would make running workflows non-deterministic
 * (commands in another order, a removed signal handler, a timer more or less) fails here, before it
 * reaches a worker that runs them. Covers a paged run with deletions, pause and resume, its batch, a
 * dry run, a cancelled run and its batch, and an account lane.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { historyFromFile } from './helpers/history-files';

// Replay failures surface as assertion messages below; the worker's own INFO lines are noise here.
Runtime.install({ logger: new DefaultLogger('ERROR') });

const DIR = join(__dirname, 'histories');
/**
 * Not re-recorded, kept so the patched() paths for executions still open during an upgrade stay
 * tested: lane-before-groups (one activity per item, before 'grouped-deletions'), lane-before-pipeline
 * (plain groups and a run's batches round-robin, before 'pipelined-groups' and 'oldest-batch-first')
 * and run-before-activation (batches activated in index order, before 'account-aware-activation').
 */
const EXPECTED = [
  'batch-cancelled',
  'batch-deletions',
  'lane-before-groups',
  'lane-before-hand-over',
  'lane-before-pipeline',
  'lane',
  'run-before-activation',
  'run-cancelled',
  'run-deletions',
  'run-dry',
];

function workflowCode(): Pick<ReplayWorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = process.env.RETENTION_WORKFLOW_BUNDLE;
  return bundle
    ? { workflowBundle: { codePath: bundle } }
    : { workflowsPath: require.resolve('../workflows') };
}

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
  // A workflow ID may have several recorded histories (run-deletions and run-before-activation).
  const names = new Map<string, string[]>();
  histories.forEach((h, i) =>
    names.set(h.workflowId, [...(names.get(h.workflowId) ?? []), files[i]!.replace(/\.json$/, '')]),
  );
  for (const h of histories) {
    assert.ok((h.history.events?.length ?? 0) > 5, `${names.get(h.workflowId)?.join(', ')} has events`);
  }
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories(workflowCode(), histories)) {
    const name = names.get(result.workflowId)?.shift() ?? result.workflowId;
    assert.equal(result.error, undefined, `${name} did not replay: ${String(result.error)}`);
    replayed.push(name);
  }
  assert.deepEqual(replayed.sort(), [...EXPECTED].sort());
});

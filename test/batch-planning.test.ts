/**
 * How a run spreads items over batches and picks the next batch to activate (workflows/batch-planning.ts):
 * a request listed account by account must still keep as many accounts busy as the active batches allow.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  accountsCovered,
  interleaveByAccount,
  MAX_TRACKED_ACCOUNTS,
  nextBatchToActivate,
  type PlannedBatch,
} from '../workflows/batch-planning';

const items = (account: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ account, id: `${account}-${i}` }));

describe('batch planning', () => {
  test('interleaving: round-robin by account, each account keeps its order, nothing lost or added', () => {
    const input = [...items('a', 3), ...items('b', 1), ...items('c', 2)];
    const out = interleaveByAccount(input);
    assert.deepEqual(
      out.map((i) => i.id),
      ['a-0', 'b-0', 'c-0', 'a-1', 'c-1', 'a-2'],
    );
    assert.deepEqual(interleaveByAccount(items('a', 3)), items('a', 3), 'one account: unchanged');
  });

  test('accounts covered: indexes into the run account order; "many" beyond the tracked maximum', () => {
    assert.deepEqual(accountsCovered([...items('b', 2), ...items('a', 1)], ['a', 'b', 'c']), [0, 1]);
    const many = Array.from({ length: MAX_TRACKED_ACCOUNTS + 1 }, (_, i) => items(`x${i}`, 1)).flat();
    assert.equal(
      accountsCovered(
        many,
        many.map((i) => i.account),
      ),
      undefined,
    );
  });

  test('the next batch is the one that brings the most idle accounts; ties go to request order', () => {
    const batches: PlannedBatch[] = [
      { control: 'active', accounts: [0, 1] },
      { control: 'waiting', accounts: [0, 1] },
      { control: 'waiting', accounts: [1, 2] },
      { control: 'waiting', accounts: [3, 4] },
      { control: 'waiting', accounts: [5, 6] },
    ];
    assert.equal(nextBatchToActivate(batches, false), 3);
    batches[3]!.control = 'active';
    assert.equal(nextBatchToActivate(batches, false), 4);
    batches[4]!.control = 'active';
    assert.equal(nextBatchToActivate(batches, false), 2, 'brings account 2');
    batches[2]!.control = 'active';
    assert.equal(
      nextBatchToActivate(batches, true),
      -1,
      'while items arrive, a batch bringing no idle account waits',
    );
    assert.equal(nextBatchToActivate(batches, false), 1, 'once sealed it runs too');
    batches[0]!.done = true;
    assert.equal(nextBatchToActivate(batches, true), 1, 'its accounts went idle when batch 0 finished');
  });

  test('a batch covering many accounts counts as bringing idle ones; none waiting gives -1', () => {
    assert.equal(
      nextBatchToActivate([{ control: 'active', accounts: [0] }, { control: 'waiting' }], true),
      1,
    );
    assert.equal(
      nextBatchToActivate(
        [
          { control: 'active', accounts: [0] },
          { control: 'paused', accounts: [1] },
        ],
        false,
      ),
      -1,
    );
  });
});

/**
 * How a run spreads items over batches and picks the next batch to activate (workflows/batch-planning.ts):
 * a request listed account by account must still keep as many accounts busy as the active batches allow.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  accountsCovered,
  cutByAccount,
  interleaveByAccount,
  MAX_ACTIVE_BATCHES,
  MAX_TRACKED_ACCOUNTS,
  nextBatchForIdleAccounts,
  nextBatchToActivate,
  startsAtOnce,
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

  test('cut by account: a page of 4 accounts x 250 gives 2 batches of 2 accounts each, nothing lost or reordered within an account', () => {
    const page = interleaveByAccount(['a', 'b', 'c', 'd'].flatMap((a) => items(a, 250)));
    const batches = cutByAccount(page, 500);
    assert.deepEqual(
      batches.map((b) => [...new Set(b.map((i) => i.account))]),
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
      'each batch covers as few accounts as the page allows (by position, each covered all 4)',
    );
    const flat = batches.flat();
    assert.equal(flat.length, page.length);
    for (const a of ['a', 'b', 'c', 'd'])
      assert.deepEqual(
        flat.filter((i) => i.account === a),
        items(a, 250),
      );
  });

  test('cut by account: as many batches as by position, none above the size', () => {
    const page = [...items('a', 620), ...items('b', 380)];
    const batches = cutByAccount(interleaveByAccount(page), 500);
    assert.deepEqual(
      batches.map((b) => b.length),
      [500, 500],
    );
    assert.deepEqual(
      batches.map((b) => [...new Set(b.map((i) => i.account))]),
      [['a'], ['a', 'b']],
    );
  });

  test('activating by idle accounts: every batch that brings an idle account starts, beyond the usual 4', () => {
    // A list grouped by account, 20 accounts, cut by account: 10 batches of 2 accounts each.
    const batches: PlannedBatch[] = Array.from({ length: 10 }, (_, n) => ({
      control: 'waiting',
      accounts: [2 * n, 2 * n + 1],
    }));
    const started: number[] = [];
    for (
      let n = nextBatchForIdleAccounts(batches, 4, true);
      n >= 0;
      n = nextBatchForIdleAccounts(batches, 4, true)
    ) {
      batches[n]!.control = 'active';
      started.push(n);
    }
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'all 20 accounts busy at once');
    // The old rule stops at 4 active batches: 8 of the 20 accounts busy.
    const old: PlannedBatch[] = batches.map((b) => ({ ...b, control: 'waiting' }));
    let oldStarted = 0;
    for (
      let n = nextBatchToActivate(old, false);
      n >= 0 && oldStarted < 4;
      n = nextBatchToActivate(old, false)
    ) {
      old[n]!.control = 'active';
      oldStarted++;
    }
    assert.equal(nextBatchForIdleAccounts(old, 4, true), 4, 'the new rule starts a fifth at once');
  });

  test('activating by idle accounts: a batch that brings none waits for the cap, and for the seal', () => {
    const batches: PlannedBatch[] = [
      { control: 'active', accounts: [0, 1] },
      { control: 'waiting', accounts: [1] },
      { control: 'waiting', accounts: [0, 2] },
    ];
    assert.equal(nextBatchForIdleAccounts(batches, 4, false), 2, 'brings account 2');
    batches[2]!.control = 'active';
    assert.equal(
      nextBatchForIdleAccounts(batches, 4, false),
      -1,
      'while items arrive, a later page may bring idle ones',
    );
    assert.equal(nextBatchForIdleAccounts(batches, 4, true), 1, 'sealed: within the cap');
    assert.equal(nextBatchForIdleAccounts(batches, 2, true), -1, 'sealed, cap reached: waits');
    assert.equal(
      nextBatchForIdleAccounts([{ control: 'active', accounts: [0] }, { control: 'waiting' }], 4, false),
      1,
      'a batch covering "many" accounts starts within the cap',
    );
  });

  test('activating by idle accounts: never more than MAX_ACTIVE_BATCHES active', () => {
    const batches: PlannedBatch[] = Array.from({ length: MAX_ACTIVE_BATCHES + 5 }, (_, n) => ({
      control: 'waiting',
      accounts: [n],
    }));
    let n: number;
    while ((n = nextBatchForIdleAccounts(batches, 4, true)) >= 0) batches[n]!.control = 'active';
    assert.equal(batches.filter((b) => b.control === 'active').length, MAX_ACTIVE_BATCHES);
    assert.equal(startsAtOnce(batches, [MAX_ACTIVE_BATCHES + 9], 4, true), false);
  });

  test('a new batch starts at once when it brings an idle account, or within the cap once sealed', () => {
    const batches: PlannedBatch[] = [0, 1, 2, 3].map((a) => ({ control: 'active', accounts: [a] }));
    assert.equal(startsAtOnce(batches, [4], 4, false), true, 'beyond the cap of 4: account 4 was idle');
    assert.equal(startsAtOnce(batches, [3], 4, true), false, 'account 3 busy, cap reached');
    assert.equal(startsAtOnce(batches.slice(0, 3), [2], 4, false), false, 'not sealed: waits for idle ones');
    assert.equal(startsAtOnce(batches.slice(0, 3), [2], 4, true), true, 'sealed, within the cap');
    assert.equal(
      startsAtOnce(batches.slice(0, 3), undefined, 4, false),
      true,
      '"many" accounts, within the cap',
    );
  });
});

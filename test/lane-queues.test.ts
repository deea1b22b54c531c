/**
 * The lane's queues and ledger at their edges (workflows/lane/queues.ts, workflows/lane/ledger.ts):
 * what the lane asks them to decide whether it has work, which run goes first, when remembered batches
 * and finished deletions are forgotten, and the exact outcomes a repeated backup gets. The happy paths
 * are in test/lane-state.test.ts; these were written for the Stryker survivors there (docs/testing.md,
 * "Planted bugs and mutation score").
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FINISHED_TTL_MS, LaneLedger, MAX_FINISHED } from '../workflows/lane/ledger';
import { LaneQueues, MAX_REMEMBERED_BATCHES, MEMORY_TTL_MS, RECENT_TTL_MS } from '../workflows/lane/queues';
import { itemKey } from '../contract/model';
import { A, batchId, item, queue } from './helpers/lane-fixtures';

describe('lane queues: what the lane asks them', () => {
  test('a new batch is active, has seen no chunk, and belongs to the run its id names; asked again, the same', () => {
    const q = new LaneQueues(A);
    const b = q.batch(batchId('run-a', 3), 7);
    assert.equal(b.state, 'active');
    assert.equal(b.lastChunk, -1, 'chunk 0 is new');
    assert.equal(b.run, 'run-a');
    assert.equal(b.touchedAt, 7);
    b.items.push(item('x'));
    assert.equal(q.batch(batchId('run-a', 3), 9), b);
    assert.equal(b.touchedAt, 7, 'looking a batch up does not touch it');
  });

  test('startable, runsWithQueuedItems, hasWork and outboxPending', () => {
    const q = new LaneQueues(A);
    assert.equal(q.startable(), false);
    assert.equal(q.hasWork(), false);
    assert.equal(q.outboxPending(), false);
    assert.deepEqual(q.runsWithQueuedItems(), new Set());

    const empty = q.batch(batchId('run-e', 0), 0);
    assert.equal(q.startable(), false, 'an active batch with an empty queue has nothing to start');
    assert.equal(q.hasWork(), false);

    empty.inFlight = 1;
    assert.equal(q.hasWork(), true, 'a deletion in flight is work');
    assert.equal(q.startable(), false);
    empty.inFlight = 0;
    empty.outbox.push({ ...item('o'), outcome: 'deleted', reason: 'r', at: '' });
    assert.equal(q.hasWork(), true, 'an outcome to signal is work');
    assert.equal(q.outboxPending(), true);
    q.takeOutbox(empty, 1);
    assert.equal(q.outboxPending(), false);
    assert.equal(q.hasWork(), false);

    const paused = queue(q, batchId('run-p', 0), ['p']);
    paused.state = 'paused';
    assert.equal(q.hasWork(), true, 'a paused queue is still work');
    assert.equal(q.startable(), false);
    assert.deepEqual(q.runsWithQueuedItems(), new Set());

    queue(q, batchId('run-b', 0), ['b']);
    queue(q, batchId('run-a', 0), ['a']);
    queue(q, batchId('run-a', 1), ['a2']);
    assert.equal(q.startable(), true);
    assert.deepEqual(q.runsWithQueuedItems(), new Set(['run-a', 'run-b']));
  });

  test('the first run served is the first in sorted order, whatever order its batches arrived in', () => {
    const q = new LaneQueues(A);
    queue(q, batchId('Zulu', 0), ['z1', 'z2']);
    queue(q, batchId('Alpha', 0), ['a1', 'a2']);
    const order: string[] = [];
    for (let s = q.next(true); s; s = q.next(true)) order.push(s.item.id);
    assert.deepEqual(order, ['a1', 'z1', 'a2', 'z2']);
  });
});

describe('lane queues: what is forgotten, and when', () => {
  test('recent keys last exactly RECENT_TTL_MS', () => {
    const q = new LaneQueues(A);
    const b = q.batch(batchId('run-a', 0), 0);
    b.outbox.push({ ...item('x'), outcome: 'deleted', reason: 'r', at: '' });
    q.takeOutbox(b, 1_000);
    q.prune(1_000 + RECENT_TTL_MS - 1);
    assert.equal(q.holds(b, itemKey(item('x'))), true);
    q.prune(1_000 + RECENT_TTL_MS);
    assert.equal(q.holds(b, itemKey(item('x'))), false);
  });

  test('the last 4 signalled bundles are remembered, not more', () => {
    const q = new LaneQueues(A);
    const b = q.batch(batchId('run-a', 0), 0);
    for (const id of ['k1', 'k2', 'k3', 'k4', 'k5']) {
      b.outbox.push({ ...item(id), outcome: 'deleted', reason: 'r', at: '' });
      b.oldestOutboxAt = 1;
      q.takeOutbox(b, 10);
    }
    assert.equal(b.touchedAt, 10);
    assert.equal(b.oldestOutboxAt, undefined);
    assert.deepEqual(
      ['k1', 'k2', 'k3', 'k4', 'k5'].map((id) => q.holds(b, itemKey(item(id)))),
      [false, true, true, true, true],
    );
  });

  test('a work-free batch is remembered for 30 minutes, to the millisecond', () => {
    assert.equal(MEMORY_TTL_MS, 30 * 60 * 1000);
    const q = new LaneQueues(A);
    q.batch(batchId('run-a', 0), 100);
    q.prune(100 + MEMORY_TTL_MS - 1);
    assert.equal(q.batches.size, 1);
    q.prune(100 + MEMORY_TTL_MS);
    assert.equal(q.batches.size, 0);
  });

  test('beyond MAX_REMEMBERED_BATCHES work-free batches, the least recently touched are forgotten', () => {
    const q = new LaneQueues(A);
    // Touched in an order that is not their insertion order: the oldest touch goes, not the first made.
    const n = MAX_REMEMBERED_BATCHES + 2;
    for (let i = 0; i < n; i++) q.batch(batchId('run-a', i), (i * 7) % n);
    queue(q, batchId('run-w', 0), ['w'], 0); // has work: never counted, never forgotten
    q.prune(n);
    assert.equal(q.batches.size, MAX_REMEMBERED_BATCHES + 1);
    const touched = [...q.batches.values()].filter((b) => b.run === 'run-a').map((b) => b.touchedAt);
    assert.equal(Math.min(...touched), 2, 'touches 0 and 1 were forgotten');
    assert.ok(q.batches.has(batchId('run-w', 0)));

    const exact = new LaneQueues(A);
    for (let i = 0; i < MAX_REMEMBERED_BATCHES; i++) exact.batch(batchId('run-a', i), i);
    exact.prune(MAX_REMEMBERED_BATCHES);
    assert.equal(exact.batches.size, MAX_REMEMBERED_BATCHES, 'exactly the bound: nothing forgotten');
  });

  test("a forgotten run's round-robin place is forgotten too: its next batch starts from its first", () => {
    const q = new LaneQueues(A);
    queue(q, batchId('run-a', 0), ['a0']);
    assert.equal(q.next(false)?.item.id, 'a0');
    q.prune(MEMORY_TTL_MS); // work-free and old: the run is gone from the lane
    assert.equal(q.batches.size, 0);
    queue(q, batchId('run-a', 0), ['x'], MEMORY_TTL_MS);
    queue(q, batchId('run-a', 1), ['y'], MEMORY_TTL_MS);
    assert.equal(q.next(false)?.item.id, 'x', 'not the batch after the one served before it was forgotten');
  });
});

describe('lane queues: giving items back before continue-as-new', () => {
  test('nothing is given back for no excess', () => {
    const q = new LaneQueues(A);
    queue(q, batchId('run-a', 0), ['a1']);
    assert.equal(q.giveBack(0).size, 0);
  });

  test('each item given back covers its carried size plus a separator', () => {
    // ["a1"] is 6 bytes, 7 with its comma.
    const q = new LaneQueues(A);
    queue(q, batchId('run-a', 0), ['a1', 'a2', 'a3']);
    assert.deepEqual([...q.giveBack(7).values()].flat(), [item('a3')]);
    assert.deepEqual([...q.giveBack(8).values()].flat(), [item('a1'), item('a2')]);
  });

  test('queues of equal length: the first batch id gives first', () => {
    const q = new LaneQueues(A);
    queue(q, batchId('run-b', 0), ['b1', 'b2']);
    queue(q, batchId('run-a', 0), ['a1', 'a2']);
    assert.deepEqual([...q.giveBack(1).keys()], [batchId('run-a', 0)]);
  });
});

describe('lane ledger: exact answers and bounds', () => {
  const b1 = batchId('run-1', 0);
  const b2 = batchId('run-2', 0);
  const b1b = batchId('run-1', 1);

  test('a fresh ledger carries nothing', () => {
    assert.deepEqual(new LaneLedger().carry(), []);
    assert.deepEqual(new LaneLedger(undefined).carry(), []);
  });

  test('a deleted backup asked for again: absent for another run, the same outcome as a duplicate for its own', () => {
    const l = new LaneLedger();
    l.begin(item('i', 'cp'), b1, 'run-1', 0);
    l.finish({ ...item('i', 'cp'), outcome: 'deleted', reason: 'r' }, 0);
    assert.deepEqual(l.answerFor(item('i', 'cp'), 'run-2', 1), {
      account: A,
      id: 'i',
      checkpointId: 'cp',
      outcome: 'absent',
      reason: `already deleted when run run-1 asked for it at ${new Date(0).toISOString()}; not requested again`,
    });
    assert.deepEqual(l.answerFor(item('i', 'cp'), 'run-1', 1), {
      account: A,
      id: 'i',
      checkpointId: 'cp',
      outcome: 'deleted',
      reason: 'the same backup appears twice in this run',
      duplicate: true,
    });
  });

  test('an absent backup is remembered too, as gone', () => {
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    l.finish({ ...item('x'), outcome: 'absent', reason: 'r' }, 0);
    const a = l.answerFor(item('x'), 'run-2', 1);
    assert.equal(a?.outcome, 'absent');
    assert.match(a?.reason ?? '', /^already gone when run run-1 asked/);
    assert.equal(l.begin(item('x'), b2, 'run-2', 1).kind, 'answer');
  });

  test('an outcome for a deletion this execution did not start is remembered without joiners', () => {
    const l = new LaneLedger();
    assert.deepEqual(l.finish({ ...item('x'), outcome: 'deleted', reason: 'r' }, 5), {
      joined: [],
      requeue: [],
    });
    assert.deepEqual(l.carry(), [[itemKey(item('x')), '', 5, 'deleted']]);
    assert.deepEqual(l.abandon(item('y')), [], 'nothing to give back for an item not running');
  });

  test('a joiner of the same run gets the outcome marked duplicate, with the reason it happened', () => {
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    l.begin(item('x'), b1b, 'run-1', 0);
    const { joined } = l.finish({ ...item('x'), outcome: 'deleted', reason: 'provider confirmed' }, 1);
    assert.deepEqual(joined, [
      {
        batch: b1b,
        outcome: {
          ...item('x'),
          outcome: 'deleted',
          reason: 'the same backup appears twice in this run: provider confirmed',
          duplicate: true,
        },
      },
    ]);
  });

  test('carry names the runs that joined, and only those', () => {
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    l.begin(item('x'), b2, 'run-2', 0);
    l.finish({ ...item('x'), outcome: 'deleted', reason: 'r' }, 3);
    l.begin(item('y'), b1, 'run-1', 0);
    l.finish({ ...item('y'), outcome: 'deleted', reason: 'r' }, 4);
    assert.deepEqual(l.carry(), [
      [itemKey(item('x')), 'run-1', 3, 'deleted', ['run-2']],
      [itemKey(item('y')), 'run-1', 4, 'deleted'],
    ]);
  });

  test('prune forgets finished deletions at exactly FINISHED_TTL_MS', () => {
    const l = new LaneLedger();
    l.finish({ ...item('x'), outcome: 'deleted', reason: 'r' }, 100);
    l.prune(100 + FINISHED_TTL_MS - 1);
    assert.equal(l.carry().length, 1);
    l.prune(100 + FINISHED_TTL_MS);
    assert.deepEqual(l.carry(), []);
  });

  test('beyond MAX_FINISHED, prune drops the oldest by time, not by insertion', () => {
    const l = new LaneLedger();
    const n = MAX_FINISHED + 2;
    // Finished at times that are not in insertion order: the two smallest times go.
    for (let i = 0; i < n; i++) l.finish({ ...item(`b${i}`), outcome: 'deleted', reason: 'r' }, (i * 7) % n);
    l.prune(n);
    const times = l.carry().map((c) => c[2]);
    assert.equal(times.length, MAX_FINISHED);
    assert.equal(Math.min(...times), 2);

    const exact = new LaneLedger();
    for (let i = 0; i < MAX_FINISHED; i++)
      exact.finish({ ...item(`b${i}`), outcome: 'deleted', reason: 'r' }, i);
    exact.prune(MAX_FINISHED);
    assert.equal(exact.carry().length, MAX_FINISHED);
  });
});

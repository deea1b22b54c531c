/**
 * The lane's pure state, without a server: the queues and their fairness (lane/queues.ts), the ledger
 * of deletions across batches and runs (lane/ledger.ts), and the pipelined groups' depth
 * (lane/pipeline-depth.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FINISHED_TTL_MS, LaneLedger, MAX_FINISHED } from '../workflows/lane/ledger';
import { MAX_PIPELINED_ITEMS, PipelineDepth } from '../workflows/lane/pipeline-depth';
import { LaneQueues, MEMORY_TTL_MS, RECENT_TTL_MS } from '../workflows/lane/queues';
import { itemKey } from '../contract/model';
import { A, batchId, item, queue } from './helpers/lane-fixtures';

function drain(q: LaneQueues, oldestFirst = true): string[] {
  const out: string[] = [];
  for (let s = q.next(oldestFirst); s; s = q.next(oldestFirst)) out.push(`${s.b.run}:${s.item.id}`);
  return out;
}

describe('lane queues', () => {
  test('round-robin over runs; within a run the oldest batch first', () => {
    const q = new LaneQueues(A);
    queue(q, batchId('run-a', 1), ['a1-1', 'a1-2']);
    queue(q, batchId('run-a', 0), ['a0-1', 'a0-2']);
    queue(q, batchId('run-b', 0), ['b0-1', 'b0-2', 'b0-3']);
    assert.deepEqual(drain(q), [
      'run-a:a0-1',
      'run-b:b0-1',
      'run-a:a0-2',
      'run-b:b0-2',
      'run-a:a1-1',
      'run-b:b0-3',
      'run-a:a1-2',
    ]);
  });

  test("lanes recorded before 'oldest-batch-first' serve a run's batches round-robin", () => {
    const q = new LaneQueues(A);
    queue(q, batchId('run-a', 0), ['a0-1', 'a0-2']);
    queue(q, batchId('run-a', 1), ['a1-1', 'a1-2']);
    assert.deepEqual(drain(q, false), ['run-a:a0-1', 'run-a:a1-1', 'run-a:a0-2', 'run-a:a1-2']);
  });

  test('paused and cancelled batches are not startable', () => {
    const q = new LaneQueues(A);
    const b = queue(q, batchId('run-a', 0), ['x']);
    b.state = 'paused';
    assert.equal(q.startable(), false);
    assert.equal(q.next(true), undefined);
    b.state = 'active';
    assert.equal(q.startable(), true);
  });

  test('an outcome taken for signalling is no longer held but counts as recent for RECENT_TTL_MS', () => {
    const q = new LaneQueues(A);
    const b = queue(q, batchId('run-a', 0), ['x']);
    const key = itemKey(item('x'));
    b.items.shift();
    b.outbox.push({ ...item('x'), outcome: 'deleted', reason: 'r' });
    assert.equal(q.takeOutbox(b, 1_000).length, 1);
    assert.equal(b.held.has(key), false);
    assert.equal(q.holds(b, key), true, 'a re-send moments after the outcome is ignored');
    q.prune(1_000 + RECENT_TTL_MS + 1);
    assert.equal(q.holds(b, key), false);
  });

  test('work-free batches are forgotten after MEMORY_TTL_MS, batches with work never', () => {
    const q = new LaneQueues(A);
    q.batch(batchId('run-a', 0), 0);
    queue(q, batchId('run-b', 0), ['y'], 0);
    q.prune(MEMORY_TTL_MS);
    assert.deepEqual([...q.batches.keys()], [batchId('run-b', 0)]);
  });

  test('carry round trip keeps state, chunk memory, queued items (with checkpoints) and recent keys', () => {
    const q = new LaneQueues(A);
    const b = q.batch(batchId('run-a', 0), 5);
    b.state = 'paused';
    b.lastChunk = 3;
    b.items.push(item('x'), item('c1', 'cp'));
    b.recent.push({ at: 4, keys: new Set(['k']) });
    const again = new LaneQueues(A, JSON.parse(JSON.stringify(q.carry())));
    const c = again.batches.get(batchId('run-a', 0))!;
    assert.equal(c.state, 'paused');
    assert.equal(c.lastChunk, 3);
    assert.equal(c.touchedAt, 5);
    assert.deepEqual(c.items, [item('x'), item('c1', 'cp')]);
    assert.ok(c.held.has(itemKey(item('c1', 'cp'))));
    assert.ok(again.holds(c, 'k'));
  });

  test('giveBack takes the newest items of the longest queue first, until the excess is covered', () => {
    const q = new LaneQueues(A);
    queue(q, batchId('run-a', 0), ['a1', 'a2', 'a3', 'a4']);
    queue(q, batchId('run-b', 0), ['b1']);
    const back = q.giveBack(1);
    assert.deepEqual([...back], [[batchId('run-a', 0), [item('a4')]]]);
    assert.equal(q.batches.get(batchId('run-a', 0))!.held.has(itemKey(item('a4'))), false);
    const more = q.giveBack(10_000);
    assert.equal([...more.values()].flat().length, 4, 'everything left when the budget needs it');
  });

  // README "Guarantees", one deletion per backup: a re-sent item to inspect must not lose its mark
  // across continue-as-new (it would then be requested blindly), nor when given back to its batch.
  test('re-sent items to inspect keep their mark across continue-as-new and when given back', () => {
    const q = new LaneQueues(A);
    const b = queue(q, batchId('run-a', 0), ['r1', 'r2']);
    b.inspect.add(itemKey(item('r1')));
    b.inspect.add(itemKey(item('r2')));
    q.giveBack(1); // r2 goes back to the batch, which sends it again later
    const again = new LaneQueues(A, JSON.parse(JSON.stringify(q.carry())));
    const c = again.batches.get(batchId('run-a', 0))!;
    assert.deepEqual(c.items, [item('r1')]);
    assert.deepEqual([...c.inspect].sort(), [itemKey(item('r1')), itemKey(item('r2'))]);
    const plain = new LaneQueues(A);
    queue(plain, batchId('run-b', 0), ['p1']);
    assert.equal('inspect' in plain.carry()[0]!, false, 'nothing carried when nothing is to inspect');
  });
});

describe('lane ledger: one deletion per backup across batches and runs', () => {
  const b1 = batchId('run-1', 0);
  const b2 = batchId('run-2', 0);
  const b1b = batchId('run-1', 1);

  test('a second batch joins the running deletion and gets its outcome, naming the run it joined', () => {
    const l = new LaneLedger();
    assert.deepEqual(l.begin(item('x'), b1, 'run-1', 0), { kind: 'start' });
    assert.deepEqual(l.begin(item('x'), b2, 'run-2', 0), { kind: 'join', run: 'run-1' });
    const { joined, requeue } = l.finish(
      { ...item('x'), outcome: 'deleted', reason: 'provider confirmed the deletion' },
      10,
    );
    assert.deepEqual(requeue, []);
    assert.equal(joined.length, 1);
    assert.equal(joined[0]!.batch, b2);
    assert.equal(joined[0]!.outcome.outcome, 'deleted');
    assert.match(joined[0]!.outcome.reason, /joined run run-1's deletion/);
    assert.equal(joined[0]!.outcome.duplicate, undefined);
  });

  test('the same run twice (two pages): the joined outcome is marked duplicate', () => {
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    assert.equal(l.begin(item('x'), b1b, 'run-1', 0).kind, 'join');
    const { joined } = l.finish({ ...item('x'), outcome: 'deleted', reason: 'r' }, 1);
    assert.equal(joined[0]!.outcome.duplicate, true);
  });

  test('after a confirmed deletion another run is answered absent, never started; until the TTL', () => {
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    l.finish({ ...item('x'), outcome: 'deleted', reason: 'r' }, 100);
    const d = l.begin(item('x'), b2, 'run-2', 200);
    assert.equal(d.kind, 'answer');
    assert.equal(d.kind === 'answer' && d.outcome.outcome, 'absent');
    assert.match(d.kind === 'answer' ? d.outcome.reason : '', /already deleted when run run-1 asked/);
    assert.ok(l.answerFor(item('x'), 'run-2', 100 + FINISHED_TTL_MS - 1));
    assert.equal(l.answerFor(item('x'), 'run-2', 100 + FINISHED_TTL_MS), undefined);
    assert.equal(l.begin(item('x'), b2, 'run-2', 100 + FINISHED_TTL_MS).kind, 'start');
  });

  test('a run answered from the ledger that asks again (a later page) gets a duplicate, not a second outcome', () => {
    // Seen in the chaos run: a twin run's page repeated a VM the main run had deleted; both requests
    // were answered `absent` and the twin's report had the VM twice.
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    l.finish({ ...item('x'), outcome: 'deleted', reason: 'r' }, 100);
    const first = l.answerFor(item('x'), 'run-2', 200);
    assert.equal(first?.outcome, 'absent');
    assert.equal(first?.duplicate, undefined);
    const again = l.begin(item('x'), b2, 'run-2', 300);
    assert.equal(again.kind, 'answer');
    assert.equal(again.kind === 'answer' && again.outcome.duplicate, true);
    // Carried across continue-as-new too.
    const carried = new LaneLedger(l.carry());
    assert.equal(carried.answerFor(item('x'), 'run-2', 400)?.duplicate, true);
    assert.equal(carried.answerFor(item('x'), 'run-3', 400)?.duplicate, undefined);
  });

  test('failed, blocked and skipped deletions are not remembered: a later request starts anew', () => {
    for (const outcome of ['failed', 'blocked', 'skipped'] as const) {
      const l = new LaneLedger();
      l.begin(item('x'), b1, 'run-1', 0);
      l.finish({ ...item('x'), outcome, reason: 'r' }, 1);
      assert.equal(l.answerFor(item('x'), 'run-2', 2), undefined, outcome);
      assert.equal(l.begin(item('x'), b2, 'run-2', 2).kind, 'start', outcome);
    }
  });

  test('joiners of a skipped deletion (its run stopped) are requeued, not skipped', () => {
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    l.begin(item('x'), b2, 'run-2', 0);
    const { joined, requeue } = l.finish({ ...item('x'), outcome: 'skipped', reason: 'run stopped' }, 1);
    assert.deepEqual(joined, []);
    assert.deepEqual(
      requeue.map((r) => r.batch),
      [b2],
    );
  });

  test('an item given back unstarted keeps no running entry and returns its joiners', () => {
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    l.begin(item('x'), b2, 'run-2', 0);
    assert.deepEqual(
      l.abandon(item('x')).map((j) => j.batch),
      [b2],
    );
    assert.equal(l.runningCount, 0);
    assert.equal(l.begin(item('x'), b2, 'run-2', 0).kind, 'start');
  });

  test('its own item begun again keeps the joiners', () => {
    const l = new LaneLedger();
    l.begin(item('x'), b1, 'run-1', 0);
    l.begin(item('x'), b2, 'run-2', 0);
    assert.equal(l.begin(item('x'), b1, 'run-1', 0).kind, 'start');
    assert.equal(l.finish({ ...item('x'), outcome: 'deleted', reason: 'r' }, 1).joined.length, 1);
  });

  test("a run that joined another run's deletion gets a later repeat of it as a duplicate", () => {
    const l = new LaneLedger();
    l.begin(item('x'), b2, 'run-2', 0);
    l.begin(item('x'), b1, 'run-1', 0);
    l.begin(item('x'), b1b, 'run-1', 0);
    const { joined } = l.finish({ ...item('x'), outcome: 'deleted', reason: 'r' }, 1);
    assert.deepEqual(
      joined.map((j) => [j.batch, j.outcome.duplicate ?? false]),
      [
        [b1, false],
        [b1b, true],
      ],
    );
    const again = new LaneLedger(JSON.parse(JSON.stringify(l.carry())));
    assert.equal(again.answerFor(item('x'), 'run-1', 2)?.duplicate, true, 'run-1 has it already');
    assert.equal(again.answerFor(item('x'), 'run-3', 2)?.duplicate, undefined);
  });

  test('checkpoint items are told apart by checkpoint', () => {
    const l = new LaneLedger();
    l.begin(item('i', 'cp1'), b1, 'run-1', 0);
    assert.equal(l.begin(item('i', 'cp2'), b2, 'run-2', 0).kind, 'start');
  });

  test('carried across continue-as-new; bounded by MAX_FINISHED (oldest dropped)', () => {
    const l = new LaneLedger();
    for (let i = 0; i <= MAX_FINISHED; i++) {
      l.begin(item(`b${i}`), b1, 'run-1', i);
      l.finish({ ...item(`b${i}`), outcome: 'deleted', reason: 'r' }, i);
    }
    l.prune(MAX_FINISHED + 1);
    const again = new LaneLedger(JSON.parse(JSON.stringify(l.carry())));
    assert.equal(again.carry().length, MAX_FINISHED);
    assert.equal(again.answerFor(item('b0'), 'run-2', MAX_FINISHED + 2), undefined, 'the oldest was dropped');
    assert.equal(again.answerFor(item(`b${MAX_FINISHED}`), 'run-2', MAX_FINISHED + 2)?.outcome, 'absent');
  });
});

describe('pipelined group depth', () => {
  test('starts at 8 per slot, doubles while groups start all they get, shrinks to what they managed + 1', () => {
    const d = new PipelineDepth();
    assert.equal(d.extrasWanted(2, true, false), 16);
    d.learn(16, 16, 2, true);
    assert.equal(d.extrasWanted(2, true, false), 32);
    d.learn(5, 32, 2, true);
    assert.equal(d.extrasWanted(2, true, false), 8, 'ceil(5 / 2) + 1 = 4 per slot');
    assert.equal(d.extrasWanted(2, true, true), 0, 'nothing extra while draining');
    assert.equal(d.extrasWanted(60, true, false), MAX_PIPELINED_ITEMS - 60);
  });

  test('lanes recorded before the hand-over start at 2 per slot and shrink to the floor', () => {
    const d = new PipelineDepth();
    assert.equal(d.extrasWanted(3, false, false), 6);
    d.learn(2, 6, 3, false);
    assert.equal(d.extrasWanted(3, false, false), 3, 'max(1, floor(2 / 3)) = 1 per slot');
  });
});

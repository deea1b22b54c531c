/**
 * Re-sent items, without a server (README "Guarantees", one deletion per backup): what a batch keeps
 * of accepted deletions for a re-send (workflows/batch/batch-items.ts), and how a restarted lane's
 * deletion activity reads the provider before requesting a re-sent item (activities/resent-items.ts).
 * End to end: test/worker-crash.test.ts and test/veeam-lane-terminate.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Observation, ProviderAdapter } from '../activities/providers/adapter';
import { inspectResent } from '../activities/resent-items';
import { BatchItems } from '../workflows/batch/batch-items';
import { itemKey, type AccountLimits, type ItemRef } from '../contract/model';

const A = 'acct';
const item = (id: string): ItemRef => ({ account: A, id });
const limits = { name: A, maxConcurrent: 2, deletionDeadlineMs: 60_000 } as AccountLimits;

describe('a batch keeps accepted handles for a re-send', () => {
  const sentBatch = () => {
    const b = new BatchItems([item('v1'), item('v2'), item('v3')], () => limits);
    b.sent(A, b.pending.get(A)!.splice(0, 2)); // v1, v2 in the lane; v3 not sent yet
    return b;
  };

  test('the handle of an open item is re-sent with it; items without one are sent without', () => {
    const b = sentBatch();
    b.acceptedDeletion({ key: itemKey(item('v1')), handle: { sessionId: 's-1' } });
    assert.deepEqual(b.handlesOf([item('v1'), item('v2')]), [
      { key: itemKey(item('v1')), handle: { sessionId: 's-1' } },
    ]);
  });

  test('not kept for an item with an outcome, an item not sent, or a stranger; dropped on the outcome', () => {
    const b = sentBatch();
    b.acceptedDeletion({ key: itemKey(item('v3')), handle: { sessionId: 'not-sent' } });
    b.acceptedDeletion({ key: itemKey(item('nope')), handle: { sessionId: 'stranger' } });
    b.acceptedDeletion({ key: itemKey(item('v2')), handle: { sessionId: 's-2' } });
    b.accept({ ...item('v2'), outcome: 'deleted', reason: 'x', at: '2026-01-01T00:00:00Z' });
    b.acceptedDeletion({ key: itemKey(item('v2')), handle: { sessionId: 'late' } });
    assert.deepEqual(b.handlesOf([item('v1'), item('v2'), item('v3'), item('nope')]), []);
  });

  test('an accepted note is not a word from the lane: the silence watchdog still fires', () => {
    const b = sentBatch();
    b.heardFrom(A, 0);
    b.acceptedDeletion({ key: itemKey(item('v1')), handle: { sessionId: 's-1' } });
    assert.equal(b.silentLanes(15_000).due.length, 1);
  });
});

describe('a re-sent item is read before it is requested', () => {
  const observing = (seen: Observation, deleting?: string[]): ProviderAdapter => ({
    requestDeletion: () => Promise.reject(new Error('must not request')),
    observeDeletion: () => Promise.resolve(seen),
    listBackups: () => Promise.reject(new Error('unused')),
    ...(deleting ? { deletingStatuses: new Set(deleting) } : {}),
  });

  test('gone, deleting (the adapter names the status) or present', async () => {
    const i = item('b1');
    assert.equal(await inspectResent(observing({ state: 'gone' }), i, {}), 'gone');
    assert.equal(
      await inspectResent(observing({ state: 'pending', status: 'deleting' }, ['deleting']), i, {}),
      'deleting',
    );
    assert.equal(
      await inspectResent(observing({ state: 'pending', status: 'available' }, ['deleting']), i, {}),
      'present',
    );
    assert.equal(
      await inspectResent(observing({ state: 'pending', status: 'deleting' }), i, {}),
      'present',
      'an adapter that names no deleting status never reads as deleting',
    );
    assert.equal(
      await inspectResent(observing({ state: 'failed', status: 'error_deleting', reason: 'r' }), i, {}),
      'present',
      'a failed deletion is requested again through the normal path',
    );
  });

  test('a provider whose deletes never repeat is asked whether anything of the item is still there', async () => {
    const veeam = (there: boolean): ProviderAdapter => ({
      ...observing({ state: 'gone' }),
      observeDeletion: () => Promise.reject(new Error('no session id to observe')),
      neverRepeatDelete: { stillThere: () => Promise.resolve(there) },
    });
    assert.equal(await inspectResent(veeam(true), item('vm'), {}), 'present');
    assert.equal(await inspectResent(veeam(false), item('vm'), {}), 'gone');
  });
});

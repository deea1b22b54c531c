/**
 * Huawei VBS end to end through the real dev server: the vertical slice of the foundation issue.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { RetentionClient } from '../client/retention-client';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { assertNoRepeats } from './helpers/deletes';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

describe('VBS end to end', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack({ vbs: { provider: 'vbs' } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  test('200 items with 30% of deletes and polls answered 503 all end deleted', async () => {
    const backups = vbsBackups(200, 'flaky');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    stack.sim.setFaults([
      { provider: 'vbs', method: 'DELETE', rate: 0.3, fault: { kind: 'status', status: 503 } },
      {
        provider: 'vbs',
        method: 'GET',
        path: '/backups/flaky',
        rate: 0.3,
        fault: { kind: 'status', status: 503 },
      },
    ]);
    const account = stack.account('vbs');
    const id = await rc.start({ items: backups.map((b) => ({ account, id: b.id })), dryRun: false });
    const summary = await rc.result(id);
    stack.sim.setFaults([]);
    assert.equal(summary.total, 200);
    assert.deepEqual(summary.counts, { deleted: 200, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    const counters = stack.sim.ctx.counters.snapshot();
    for (const b of backups) {
      assert.equal(
        counters.acceptedDeletes[`vbs:${stack.scope('vbs')}:${b.id}`],
        1,
        `simulator accepted one deletion of ${b.id}`,
      );
    }
    assert.ok((counters.requests['vbs DELETE'] ?? 0) > 200, 'some deletes were retried after 503');
    // Retries after a 503 come before acceptance; none after it (a busy or 404 would not show above).
    assertNoRepeats(stack.sim, `vbs:${stack.scope('vbs')}:`);
    assert.deepEqual(
      stack.sim.provider('vbs').list(stack.scope('vbs')),
      [],
      'no backup left in the simulator',
    );
    const outcomes = [];
    for await (const o of rc.report(id)) outcomes.push(o);
    assert.equal(outcomes.length, 200);
    assert.ok(outcomes.every((o) => o.outcome === 'deleted'));
  });

  test('a backup already gone at the first delete ends absent, not failed', async () => {
    const account = stack.account('vbs');
    const [present] = vbsBackups(1, 'present');
    stack.sim.seed('vbs', stack.scope('vbs'), [present]);
    const id = await rc.start({
      items: [
        { account, id: present!.id },
        { account, id: 'never-existed' },
      ],
      dryRun: false,
    });
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 1);
    assert.equal(summary.counts.absent, 1);
    assert.equal(summary.counts.failed, 0);
    const outcomes = [];
    for await (const o of rc.report(id)) outcomes.push(o);
    assert.equal(outcomes.find((o) => o.id === 'never-existed')?.outcome, 'absent');
  });

  test('a request with a wrong field fails at once, non-retryably, naming the field', async () => {
    const handle = await stack.client.workflow.start(retentionCleanup, {
      taskQueue: stack.taskQueue,
      workflowId: `bad-request-${Date.now()}`,
      args: [{ items: [{ account: stack.account('vbs'), id: 42 }], dryRun: 'no' }],
    });
    const err = await handle.result().then(
      () => assert.fail('the run should have failed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'InvalidRequest');
    assert.equal(err.cause.nonRetryable, true);
    assert.match(err.cause.message, /items\[0\]\.id/);
    assert.match(err.cause.message, /dryRun/);
  });

  test('the client rejects a missing field before contacting Temporal', async () => {
    await assert.rejects(rc.start({ items: [{ account: stack.account('vbs') } as never] }), /items\[0\]\.id/);
  });

  test('an unknown account fails the run at once, naming it and the known ones', async () => {
    const id = await rc.start({ items: [{ account: 'no-such-account', id: 'x' }], dryRun: false });
    await assert.rejects(rc.result(id), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      assert.match(String(e.cause?.message), /no-such-account/);
      assert.match(String(e.cause?.message), new RegExp(stack.account('vbs')));
      return true;
    });
  });

  test('a dry run calls no delete endpoint', async () => {
    const backups = vbsBackups(20, 'dry');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const before = stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0;
    const account = stack.account('vbs');
    const id = await rc.start({ items: backups.map((b) => ({ account, id: b.id })) }); // dryRun defaults to true
    const summary = await rc.result(id);
    assert.equal(summary.dryRun, true);
    assert.equal(summary.counts.skipped, 20);
    assert.equal(
      stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0,
      before,
      'no DELETE reached the simulator',
    );
    assert.equal(
      stack.sim
        .provider('vbs')
        .list(stack.scope('vbs'))
        .filter((b) => (b as { id: string }).id.startsWith('dry')).length,
      20,
    );
  });
});

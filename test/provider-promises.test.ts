/**
 * Promises without an end-to-end test of their own (issue 17 item 2), through the real dev server, the
 * worker and the simulator:
 *  - the workflow's own `dryRun` default: a start that leaves `dryRun` out (as the Web UI's Start
 *    Workflow form does when the field is not typed) deletes nothing, checked by what the provider saw;
 *  - the Retry-After delay as the simulator observes it, in both the seconds and the HTTP-date form;
 *  - a malformed provider answer ends the item `failed` with `InvalidProviderResponse`, naming the field,
 *    and never `deleted` (README "Guarantees", "A misconfiguration never reads as success").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { deleteRequests } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

describe('promises end to end', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        dry: { provider: 'vbs', limits: { maxConcurrent: 3, pollInterval: '100ms' } },
        bad: { provider: 'vbs', limits: { maxConcurrent: 3, pollInterval: '100ms' } },
        ra: { provider: 'vbs', limits: { maxConcurrent: 3, pollInterval: '100ms' } },
      },
      { sim: { timings: { deleteMs: { vbs: 200 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test('a start without dryRun (the workflow default) sends no delete request at all', async () => {
    const scope = stack.scope('dry');
    const backups = vbsBackups(12, 'dry');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account: stack.account('dry'), id: b.id }));
    // Straight to the workflow, past the client (which sets dryRun itself): the input a Web UI user types.
    const handle = await stack.client.workflow.start(retentionCleanup, {
      workflowId: `dry-default-${Date.now()}`,
      taskQueue: stack.taskQueue,
      args: [{ items } as never],
    });
    const summary = await handle.result();
    assert.equal(summary.total, 12);
    assert.deepEqual(deleteRequests(stack.sim, `vbs:${scope}:`), {}, 'the provider saw no delete request');
    assert.equal(stack.sim.ctx.counters.requests.get('vbs DELETE') ?? 0, 0);
    assert.equal(stack.sim.provider('vbs').list(scope).length, 12, 'every backup is still there');
    const outcomes = assertOneOutcomeEach(await reportOf(rc, handle.workflowId), items);
    for (const o of outcomes.values())
      assert.notEqual(o.outcome, 'deleted', `${o.id}: ${o.outcome} ${o.reason}`);
    assert.equal((await handle.describe()).memo?.dryRun, true, 'the run shows itself as a dry run');
  });

  test('a malformed answer to the deletion poll ends the item failed, InvalidProviderResponse, naming the field', async () => {
    const scope = stack.scope('bad');
    const backups = vbsBackups(1, 'bad');
    stack.sim.seed('vbs', scope, backups);
    const id = backups[0]!.id;
    // Every poll of this backup answers a body whose backup has no status.
    stack.sim.setFaults([
      {
        provider: 'vbs',
        method: 'GET',
        path: `/backups/${id}$`,
        fault: { kind: 'malformed', raw: JSON.stringify({ backup: { id } }) },
      },
    ]);
    try {
      const items = [{ account: stack.account('bad'), id }];
      const runId = await rc.start({ items, dryRun: false, label: 'malformed' });
      const summary = await rc.result(runId);
      const o = assertOneOutcomeEach(await reportOf(rc, runId), items)
        .values()
        .next().value!;
      console.log(`malformed poll: ${o.outcome} ${o.code ?? ''} ${o.reason}`);
      assert.equal(o.outcome, 'failed', `${o.outcome}: ${o.reason}`);
      assert.match(`${o.code ?? ''} ${o.reason}`, /InvalidProviderResponse/);
      assert.match(o.reason, /status/, 'the message names the missing field');
      assert.equal(summary.counts.failed, 1);
      assert.equal(deleteRequests(stack.sim, `vbs:${scope}:`)[`vbs:${scope}:${id}`]?.afterAcceptance, 0);
    } finally {
      stack.sim.setFaults([]);
    }
  });

  for (const form of ['seconds', 'HTTP-date'] as const) {
    test(`Retry-After in the ${form} form: the provider sees the next delete no earlier than it asked`, async () => {
      const scope = stack.scope('ra');
      const backups = vbsBackups(1, `ra-${form === 'seconds' ? 's' : 'd'}`);
      stack.sim.seed('vbs', scope, backups);
      const id = backups[0]!.id;
      const key = `vbs:${scope}:${id}`;
      // Computed when the 429 is answered: the HTTP-date 3 s ahead (second resolution, so 2-3 s).
      let notBefore = 0;
      const retryAfter = form === 'seconds' ? '2' : new Date(Date.now() + 3_000).toUTCString();
      stack.sim.setFaults([
        {
          provider: 'vbs',
          method: 'DELETE',
          path: `/backups/${id}$`,
          times: 1,
          fault: { kind: 'status', status: 429, retryAfter },
        },
      ]);
      try {
        const runId = await rc.start({ items: [{ account: stack.account('ra'), id }], dryRun: false });
        const summary = await rc.result(runId);
        assert.equal(summary.counts.deleted, 1, JSON.stringify(summary.counts));
      } finally {
        stack.sim.setFaults([]);
      }
      const [throttled, next] = stack.sim.ctx.counters.deleteRequests.timesOf(key);
      assert.ok(
        throttled && next,
        `two delete requests seen (${stack.sim.ctx.counters.deleteRequests.timesOf(key).length})`,
      );
      notBefore = form === 'seconds' ? throttled + 2_000 : Date.parse(retryAfter);
      const waited = next - throttled;
      console.log(`Retry-After ${retryAfter}: the next delete came ${waited} ms after the 429`);
      // Same machine, same clock: only timer granularity (a few ms) may bring it in earlier.
      assert.ok(
        next >= notBefore - 50,
        `the next delete came ${notBefore - next} ms before Retry-After allowed`,
      );
      assert.deepEqual(deleteRequests(stack.sim, key)[key]?.faults, 1);
      assert.equal(deleteRequests(stack.sim, key)[key]?.afterAcceptance, 0);
    });
  }
});

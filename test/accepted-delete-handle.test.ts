/**
 * Guarantees: "An accepted delete keeps its handle" (issue 12 item 9). A provider that accepts a delete
 * but answers in a shape we did not expect (a Veeam session of another `type`, a JSA id echoed as a
 * different string, a TaurusDB body without `backup_id`) is still deleting: the item must be observed
 * to its end and reported `deleted`, never `failed` with the session lost, and nothing is posted twice.
 * Black-box: the real dev server, the worker and the simulator, whose `rewrite` fault lets the
 * provider act on the request and then alters its answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import type { FaultRule } from '../simulator/faults';
import { startStack, type Stack } from './helpers/stack';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, resultWithin } from './helpers/runs';

const T0 = Date.UTC(2026, 0, 1);

describe('an accepted delete whose answer fails validation keeps its handle (real dev server)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        veeam: { provider: 'veeam' },
        jsa: { provider: 'jsa' },
        taurus: { provider: 'taurusdb' },
      },
      // Deletions long enough to be observed over several polls after the odd answer.
      { sim: { timings: { deleteMs: { veeam: 1_500, jsa: 1_500, taurusdb: 1_500 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  test('unexpected session type, echoed id, missing backup_id: deleted, one request each', async () => {
    const veeam = { account: stack.account('veeam'), scope: stack.scope('veeam') };
    const jsa = { account: stack.account('jsa'), scope: stack.scope('jsa') };
    const taurus = { account: stack.account('taurus'), scope: stack.scope('taurus') };
    const vms = ['vm-odd-1', 'vm-odd-2'];
    stack.sim.seed(
      'veeam',
      veeam.scope,
      vms.map((id) => ({
        id,
        restorePoints: [{ id: `${id}-rp`, pointInTime: new Date(T0).toISOString() }],
      })),
    );
    const jsaIds = [301, 302];
    stack.sim.seed(
      'jsa',
      jsa.scope,
      jsaIds.map((id) => ({ id, status: 'SUCCESS', type: 'CONFIG', host_id: 53, time_initiated: T0 + id })),
    );
    const taurusIds = ['odd-0br07', 'odd-1br07'];
    stack.sim.seed(
      'taurusdb',
      taurus.scope,
      taurusIds.map((id, i) => ({
        id,
        name: `manual-${i}`,
        begin_time: '2026-01-01T08:00:00+0800',
        instance_id: 'inst-0in07',
        type: 'manual',
      })),
    );
    const rewrite = (provider: string, method: string, path: string, fault: object): FaultRule => ({
      provider,
      method,
      path,
      fault: { kind: 'rewrite', ...fault } as FaultRule['fault'],
    });
    stack.sim.setFaults([
      rewrite('veeam', 'POST', '/deleteBackups$', { set: { type: 'BackupJob' } }),
      rewrite('jsa', 'DELETE', '/backups/301$', { set: { id: '0301' } }),
      rewrite('jsa', 'DELETE', '/backups/302$', { set: { id: 'backup-302' } }),
      rewrite('taurusdb', 'DELETE', '/backups/', { unset: ['backup_id'] }),
    ]);

    const items = [
      ...vms.map((id) => ({ account: veeam.account, id })),
      ...jsaIds.map((id) => ({ account: jsa.account, id: String(id) })),
      ...taurusIds.map((id) => ({ account: taurus.account, id })),
    ];
    const runId = await rc.start({ items, dryRun: false });
    const summary = await resultWithin(rc, runId, 120_000);
    const hits = stack.sim.faults.list().map((r) => (r as { hits?: number }).hits ?? 0);
    stack.sim.setFaults([]);
    assert.deepEqual(hits, [2, 1, 1, 2], 'every delete was answered in the odd shape');

    const byKey = assertOneOutcomeEach(await reportOf(rc, runId), items);
    for (const [key, o] of byKey) {
      assert.equal(o.outcome, 'deleted', `${key}: ${o.outcome} (${o.reason})`);
      // The odd answer is said in the reason, so an operator can see the provider's shape changed.
      assert.match(
        o.reason ?? '',
        /provider confirmed the deletion; .*(type "BackupJob"|echoed id|no backup_id)/,
      );
    }
    assert.equal(summary.counts.deleted, items.length);

    assertNoRepeats(stack.sim, '', 'no delete request after an odd acceptance');
    const counters = stack.sim.ctx.counters;
    for (const id of vms) assert.equal(counters.sessionsPerVm.get(`veeam:${veeam.scope}:${id}`), 1, id);
    for (const id of jsaIds) assert.equal(counters.deleteCalls.get(`jsa:${jsa.scope}:${id}`), 1, String(id));
    for (const id of taurusIds)
      assert.equal(counters.deleteCalls.get(`taurusdb:${taurus.scope}:${id}`), 1, id);
    const leftVeeam = stack.sim.provider('veeam').list(veeam.scope) as Array<{ restorePoints: unknown[] }>;
    assert.deepEqual(
      leftVeeam.map((v) => v.restorePoints.length),
      [0, 0],
    );
    assert.deepEqual(stack.sim.provider('jsa').list(jsa.scope), []);
    assert.deepEqual(stack.sim.provider('taurusdb').list(taurus.scope), []);
  });
});

/**
 * Resume from heartbeat, one attempt at a time (issue 15 item 2): the deletion activity
 * (activities/deletion/single.ts) runs in a MockActivityEnvironment given the heartbeat details an
 * earlier attempt left, against the provider simulators over HTTP. What a user relies on: an answer
 * lost with a worker is read as our deletion (README "Guarantees": The report never contradicts the
 * provider), and an accepted deletion is observed, never requested again (One deletion per backup;
 * Veeam: Never repeated).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { deleteBackupsWith } from '../activities/deletion/group';
import { deleteBackupWith } from '../activities/deletion/single';
import { ACK_LOST_REASON } from '../activities/deletion/shared';
import type {
  DeleteBackupInput,
  GroupItemResult,
  Outcome,
  RequestGate,
} from '../activities/deletion/contract';
import type { HeartbeatRecorded } from '../activities/heartbeat-recorded';
import { AdapterRegistry } from '../activities/providers/registry';
import { deleteRequests } from './helpers/deletes';
import { startStack, vbsBackups, type Stack } from './helpers/stack';
import { waitFor } from './helpers/runs';

/** No workflow around a mock attempt: the server-side wait for "requesting" is not what is tested here. */
const held: HeartbeatRecorded = async () => {};

describe('resume from heartbeat details (one deleteBackup attempt)', () => {
  let stack: Stack;
  let registry: AdapterRegistry;
  before(async () => {
    stack = await startStack(
      {
        vbs: { provider: 'vbs', limits: { pollInterval: '100ms' } },
        veeam: { provider: 'veeam', limits: { pollInterval: '100ms' } },
        // Gives up on an answer after 300 ms: a slow provider carries out a delete we timed out on.
        hasty: { provider: 'vbs', limits: { pollInterval: '100ms', requestTimeout: '300ms' } },
      },
      { worker: false, sim: { timings: { deleteMs: { vbs: 200, veeam: 300 } } } },
    );
    registry = new AdapterRegistry(stack.loaded);
  });
  after(async () => stack?.stop());

  /**
   * Attempt `attempt` of one deleteBackup, given the heartbeat details an earlier attempt left (as
   * Temporal hands them after a lost worker); what it heartbeats goes into `heartbeats`.
   */
  function attemptOf(
    input: DeleteBackupInput,
    attempt: number,
    opts: { details?: unknown; gate?: RequestGate; heartbeats?: unknown[] } = {},
  ): Promise<Outcome> {
    const env = new MockActivityEnvironment({
      attempt,
      ...(opts.details !== undefined ? { heartbeatDetails: opts.details } : {}),
    });
    env.on('heartbeat', (d: unknown) => opts.heartbeats?.push(d));
    return env.run(
      deleteBackupWith,
      registry.get(input.item.account),
      input,
      opts.gate,
      held,
    ) as Promise<Outcome>;
  }

  /** A retried attempt (2) given `details`. */
  const retry = (account: string, id: string, details: unknown) =>
    attemptOf({ item: { account, id }, pollIntervalMs: 100 }, 2, { details });

  /** The run these deletions belong to was cancelled (through Temporal) after the earlier attempt. */
  const stoppedRun: RequestGate = async () => 'run cancelled';

  /** A retried attempt of a deletion whose run has stopped since. */
  const retryStopped = (account: string, id: string, details: unknown) =>
    attemptOf({ item: { account, id }, pollIntervalMs: 100, runWorkflowId: 'stopped-run' }, 2, {
      details,
      gate: stoppedRun,
    });

  test('a run stopped since an unanswered request: never asked again; still there = skipped, gone = deleted', async () => {
    const account = stack.account('vbs');
    const scope = stack.scope('vbs');
    const [kept] = vbsBackups(1, 'stopped-kept');
    stack.sim.seed('vbs', scope, [kept!]);
    const requesting = (id: string) => ({
      phase: 'requesting',
      at: Date.now() - 5_000,
      send: `delete ${account}/${id}`,
    });

    // The earlier request was not accepted (the backup is there, no deletion runs): not requested now.
    const skipped = await retryStopped(account, kept!.id, requesting(kept!.id));
    assert.equal(skipped.outcome, 'skipped', `${skipped.outcome}: ${skipped.reason}`);
    assert.match(skipped.reason, /run cancelled/);
    assert.deepEqual(
      deleteRequests(stack.sim, `vbs:${scope}:${kept!.id}`),
      {},
      'no delete after the run stopped',
    );

    // The earlier request deleted it, its answer lost: ours.
    const gone = await retryStopped(account, 'stopped-gone', requesting('stopped-gone'));
    assert.equal(gone.outcome, 'deleted', `${gone.outcome}: ${gone.reason}`);
    assert.equal(gone.reason, ACK_LOST_REASON);
  });

  test('a group whose run stopped since: its unanswered items are read, never requested again', async () => {
    const account = stack.account('vbs');
    const scope = stack.scope('vbs');
    const [kept] = vbsBackups(1, 'group-stopped-kept');
    stack.sim.seed('vbs', scope, [kept!]);
    const items = [
      { account, id: kept!.id },
      { account, id: 'group-stopped-gone' },
    ];
    const env = new MockActivityEnvironment({
      attempt: 2,
      heartbeatDetails: { group: [{ requesting: true }, { requesting: true }], seq: 1 },
    });
    const results = (await env.run(
      deleteBackupsWith,
      registry.get(account),
      { items, pollIntervalMs: 100, runWorkflowId: 'stopped-run' },
      stoppedRun,
      held,
    )) as GroupItemResult[];
    const outcomes = results.map((r) => ('outcome' in r ? r.outcome : undefined));
    assert.equal(outcomes[0]?.outcome, 'skipped', JSON.stringify(results[0]));
    assert.equal(outcomes[1]?.outcome, 'deleted', JSON.stringify(results[1]));
    assert.equal(outcomes[1]?.reason, ACK_LOST_REASON);
    assert.deepEqual(
      deleteRequests(stack.sim, `vbs:${scope}:group-stopped`),
      {},
      'no delete after the run stopped',
    );
  });

  test('a delete request that timed out after it was sent: the retry reads the backup gone as our deletion, not absent', async () => {
    const account = stack.account('hasty');
    const scope = stack.scope('hasty');
    const [backup] = vbsBackups(1, 'timed-out');
    stack.sim.seed('vbs', scope, [backup!]);
    // The provider carries the DELETE out after 2.5 s; the worker stopped waiting at 300 ms.
    stack.sim.setFaults([
      { provider: 'vbs', method: 'DELETE', path: backup!.id, fault: { kind: 'latency', ms: 2500 } },
    ]);
    try {
      const input: DeleteBackupInput = { item: { account, id: backup!.id }, pollIntervalMs: 100 };
      const heartbeats: unknown[] = [];
      await assert.rejects(attemptOf(input, 1, { heartbeats }));
      const details = heartbeats.at(-1);
      await waitFor(
        'the slow delete carried out',
        async () =>
          (await registry.get(account).observeDeletion({ account, id: backup!.id }, {}, {})).state === 'gone',
      );
      assert.equal(
        (details as { phase?: string }).phase,
        'requesting',
        'a timed-out request is not "answered"',
      );
      const retried = await attemptOf(input, 2, { details });
      assert.equal(retried.outcome, 'deleted', `${retried.outcome}: ${retried.reason}`);
      assert.equal(retried.reason, ACK_LOST_REASON);
    } finally {
      stack.sim.setFaults([]);
    }
  });

  test('a group request that may have been carried out: the single attempt that takes it over records "requesting"', async () => {
    const account = stack.account('vbs');
    const input: DeleteBackupInput = {
      item: { account, id: 'taken-over-gone' },
      pollIntervalMs: 100,
      // The group's request timed out after it was sent; the provider deleted the backup meanwhile.
      groupError: { kind: 'transient', message: 'UND_ERR_HEADERS_TIMEOUT', info: {}, mayBeAccepted: true },
    };
    const heartbeats: unknown[] = [];
    await assert.rejects(attemptOf(input, 1, { heartbeats }));
    const details = heartbeats.at(-1);
    assert.equal((details as { phase?: string } | undefined)?.phase, 'requesting');
    const retried = await attemptOf(input, 2, { details });
    assert.equal(retried.outcome, 'deleted', `${retried.outcome}: ${retried.reason}`);
    assert.equal(retried.reason, ACK_LOST_REASON);
  });

  test('"requesting" and a backup the provider no longer has: deleted (acknowledgement lost), no delete sent again', async () => {
    const account = stack.account('vbs');
    // Not seeded: the earlier attempt's request deleted it, its answer lost with the worker.
    const outcome = await retry(account, 'gone-after-our-request', {
      phase: 'requesting',
      at: Date.now() - 5_000,
      send: `delete ${account}/gone-after-our-request`,
    });
    assert.equal(outcome.outcome, 'deleted', `${outcome.outcome}: ${outcome.reason}`);
    assert.equal(outcome.reason, ACK_LOST_REASON);
    assert.match(outcome.decidedBy ?? '', / attempt 2, /);
    assert.deepEqual(deleteRequests(stack.sim, `vbs:${stack.scope('vbs')}:gone-after`), {});
  });

  test('"accepted" with a handle: observed to its end, nothing posted', async () => {
    const account = stack.account('vbs');
    const scope = stack.scope('vbs');
    const [backup] = vbsBackups(1, 'accepted');
    stack.sim.seed('vbs', scope, [backup]);
    // The earlier attempt's delete, accepted by the provider (its deletion runs for 200 ms).
    await registry.get(account).requestDeletion({ account, id: backup!.id }, {});
    const before = deleteRequests(stack.sim, `vbs:${scope}:${backup!.id}`);
    const outcome = await retry(account, backup!.id, { phase: 'accepted', handle: {} });
    assert.equal(outcome.outcome, 'deleted', `${outcome.outcome}: ${outcome.reason}`);
    assert.match(outcome.reason, /provider confirmed the deletion/);
    assert.deepEqual(
      deleteRequests(stack.sim, `vbs:${scope}:${backup!.id}`),
      before,
      'no delete request after the first',
    );
  });

  test('Veeam "requesting" without a session id: the appliance is asked; a session it shows is resumed, none shown is posted once', async () => {
    const account = stack.account('veeam');
    const scope = stack.scope('veeam');
    const vm = (id: string) => ({
      id,
      restorePoints: [{ id: `rp-${id}`, pointInTime: '2025-01-01T00:00:00Z' }],
    });
    stack.sim.seed('veeam', scope, [vm('vm-posted'), vm('vm-never-posted')]);
    const veeam = stack.sim.provider('veeam') as unknown as {
      sessions(scope: string): Array<{ vmId: string }>;
    };
    const sessionsOf = (id: string) => veeam.sessions(scope).filter((s) => s.vmId === id).length;
    const requesting = { phase: 'requesting', at: Date.now() - 1_000 };

    // The earlier attempt's POST went out and started a session; its answer was lost.
    await registry.get(account).requestDeletion({ account, id: 'vm-posted' }, {});
    const resumed = await retry(account, 'vm-posted', requesting);
    assert.equal(resumed.outcome, 'deleted', `${resumed.outcome}: ${resumed.reason}`);
    assert.match(resumed.reason, /provider confirmed the deletion/, 'observed through the session it found');
    assert.equal(
      sessionsOf('vm-posted'),
      1,
      'one session for the VM: the appliance was asked, not posted to again',
    );

    // The earlier attempt died before its POST: the appliance shows no session, so it is posted once.
    const posted = await retry(account, 'vm-never-posted', requesting);
    assert.equal(posted.outcome, 'deleted', `${posted.outcome}: ${posted.reason}`);
    assert.equal(sessionsOf('vm-never-posted'), 1);
  });
});

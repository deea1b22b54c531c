/**
 * Policy runs end to end: discovery lists the account through the provider API, the policy plans per
 * group, guards stop a run before anything is deleted, and a dry run shows what each rule decided.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { RetentionClient } from '../client/retention-client';
import { startStack, type Stack } from './helpers/stack';
import { reportOf } from './helpers/runs';

const DAY = 86_400_000;
const noZone = (ms: number) => new Date(ms).toISOString().replace('Z', '');

/** 3 volumes x 6 daily backups, newest first; one protected by name. */
function seedVolumes(stack: Stack, prefix: string) {
  const now = Date.now();
  const backups = [];
  for (let v = 0; v < 3; v++) {
    for (let d = 0; d < 6; d++) {
      backups.push({
        id: `${prefix}-v${v}-d${d}`,
        name: v === 0 && d === 5 ? 'keep-forever-audit' : `nightly-${d}`,
        status: 'available',
        volume_id: `${prefix}-vol-${v}`,
        created_at: noZone(now - (d * DAY + 3_600_000)),
      });
    }
  }
  stack.sim.seed('vbs', stack.scope('vbs'), backups);
  return backups;
}

describe('policy runs', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack({ vbs: { provider: 'vbs' } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  test('a dry run lists, plans per group and reports the rule for every backup, deleting nothing', async () => {
    const backups = seedVolumes(stack, 'dry');
    const id = await rc.start({
      policy: {
        accounts: [stack.account('vbs')],
        rules: { keepLast: 2 },
        groups: ['dry-vol-0', 'dry-vol-1', 'dry-vol-2'],
        protect: { namePatterns: ['keep-forever-*'] },
      },
    });
    const summary = await rc.result(id);
    assert.equal(summary.dryRun, true);
    assert.equal(summary.counts.skipped, 18, 'every listed backup is reported');
    assert.equal(summary.counts.deleted, 0);
    assert.equal(
      stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0,
      0,
      'no DELETE reached the simulator',
    );
    const outcomes = await reportOf(rc, id);
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    assert.match(byId.get('dry-v1-d0')!.reason, /kept.*keep-last 2/);
    assert.match(byId.get('dry-v1-d5')!.reason, /would delete/);
    assert.match(byId.get('dry-v0-d5')!.reason, /kept.*protected/);
    assert.equal(byId.get('dry-v2-d3')!.group, 'dry-vol-2');
    assert.equal(summary.plan?.[0]?.toDelete, 11, '3 volumes x 4 expired, minus the protected one');
    assert.equal(stack.sim.provider('vbs').list(stack.scope('vbs')).length, backups.length);
  });

  test('an executed run deletes exactly the planned backups and keeps the rest', async () => {
    seedVolumes(stack, 'exe');
    const id = await rc.start({
      policy: {
        accounts: [stack.account('vbs')],
        rules: { keepLast: 2 },
        groups: ['exe-vol-0', 'exe-vol-1', 'exe-vol-2'],
        protect: { namePatterns: ['keep-forever-*'] },
      },
      dryRun: false,
    });
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 11);
    assert.equal(summary.counts.failed + summary.counts.blocked, 0);
    const left = (stack.sim.provider('vbs').list(stack.scope('vbs')) as Array<{ id: string }>)
      .map((b) => b.id)
      .filter((i) => i.startsWith('exe'));
    assert.deepEqual(
      left.sort(),
      ['exe-v0-d0', 'exe-v0-d1', 'exe-v0-d5', 'exe-v1-d0', 'exe-v1-d1', 'exe-v2-d0', 'exe-v2-d1'].sort(),
    );
  });

  test('a run that would cross a guard stops before deleting anything and says by how much', async () => {
    seedVolumes(stack, 'grd');
    const before = stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0;
    const id = await rc.start({
      policy: {
        accounts: [stack.account('vbs')],
        rules: { keepLast: 1 },
        groups: ['grd-vol-0', 'grd-vol-1', 'grd-vol-2'],
      },
      guards: { maxDeletions: 10, maxFractionPerGroup: 0.5 },
      dryRun: false,
    });
    await assert.rejects(rc.result(id), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.equal((err.cause as { type?: string }).type, 'GuardViolation');
      assert.match(String(err.cause?.message), /maxDeletions: .*15.*limit 10.*5 over/s);
      assert.match(String(err.cause?.message), /maxFractionPerGroup/);
      return true;
    });
    assert.equal(
      stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0,
      before,
      'nothing was deleted',
    );
  });

  test('a policy naming an unknown account or an empty rule set is refused with the field named', async () => {
    await assert.rejects(
      rc.start({ policy: { accounts: [stack.account('vbs')], rules: {} } }),
      /policy\.rules/,
    );
    const id = await rc.start({ policy: { accounts: ['nope'], rules: { keepLast: 1 } } });
    await assert.rejects(rc.result(id), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String(err.cause?.message), /unknown account\(s\) "nope"/);
      return true;
    });
  });
});

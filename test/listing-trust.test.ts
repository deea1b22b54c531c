/**
 * Listings that cannot be trusted are not planned on (README "Guarantees"; activities/listing.ts):
 * the checks on their own, the adapters against the simulator's listing modes over real HTTP, and
 * policy runs through the real stack with `dryRun: false` where the old listing loop deleted the
 * wrong backups.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { RetentionClient } from '../client/retention-client';
import { ListingCheck } from '../activities/listing';
import { FAILURE } from '../contract/failure-types';
import type { ListPage } from '../activities/providers/adapter';
import { AdapterRegistry } from '../activities/providers/registry';
import type { VeeamVm } from '../simulator/veeam';
import type { BackupRecord } from '../workflows/model';
import { captureWorkerLogs, startStack, type Stack } from './helpers/stack';
import { reportOf } from './helpers/runs';

const DAY = 86_400_000;
const noZone = (ms: number) => new Date(ms).toISOString().replace('Z', '');

function rec(backupId: string, extra: Partial<BackupRecord> = {}): BackupRecord {
  return {
    account: 'acc',
    provider: 'vbs',
    id: backupId,
    backupId,
    createdAt: '2026-01-01T00:00:00.000Z',
    status: 'available',
    successful: true,
    group: 'vol',
    deletable: { ok: true },
    ...extra,
  };
}
const page = (ids: string[], extra: Partial<ListPage> = {}): ListPage => ({
  records: ids.map((i) => rec(i)),
  ...extra,
});

/** The UntrustworthyListing failure `fn` throws, or an assertion error. */
function untrusted(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, FAILURE.UntrustworthyListing);
    assert.equal(err.nonRetryable, true);
    assert.match(
      err.message,
      /^account acc: the listing cannot be trusted, so nothing of this account is planned: /,
    );
    return err.message;
  }
  return assert.fail('expected an UntrustworthyListing failure');
}

describe('listing checks', () => {
  test('a page answered from another offset than asked is refused', () => {
    const check = new ListingCheck('acc');
    check.add(page(['a', 'b'], { total: 4, offset: { asked: 0, answered: 0 }, next: '2' }));
    const msg = untrusted(() => check.add(page(['a', 'b'], { total: 4, offset: { asked: 2, answered: 0 } })));
    assert.match(msg, /page 2 was asked from offset 2 and the provider answered from offset 0/);
  });

  test('a page starting with the same backup as an earlier page is refused (an offset echoed but ignored)', () => {
    const check = new ListingCheck('acc');
    check.add(page(['a', 'b'], { next: '2' }));
    assert.match(
      untrusted(() => check.add(page(['a', 'b'], { next: '4' }))),
      /page 2 starts with the same backup as page 1 \("a"\)/,
    );
  });

  test('a cursor pointing back to a page already read is refused (no endless listing)', () => {
    const check = new ListingCheck('acc');
    check.add(page(['a'], { next: 'm1' }));
    assert.match(
      untrusted(() => check.add(page(['b'], { next: 'm1' }))),
      /points back to a page already read/,
    );
  });

  test('fewer distinct backups than the provider counts is refused, naming both numbers', () => {
    const check = new ListingCheck('acc');
    check.add(page(['a', 'b'], { total: 5 }));
    assert.match(
      untrusted(() => check.finish()),
      /the provider counts 5 backups but 2 distinct ones were listed \(3 never seen\)/,
    );
  });

  test('more distinct backups than the provider counts is refused', () => {
    const check = new ListingCheck('acc');
    check.add(page(['a', 'b', 'c'], { total: 2 }));
    assert.match(
      untrusted(() => check.finish()),
      /3 distinct backups were listed but the provider counts only 2/,
    );
  });

  test('a count that changes between pages is refused (a page may have skipped a backup)', () => {
    const check = new ListingCheck('acc');
    check.add(page(['a', 'b'], { total: 3, next: '2' }));
    assert.match(
      untrusted(() => check.add(page(['c'], { total: 4 }))),
      /count changed from 3 to 4 at page 2/,
    );
  });

  test('a backup listed twice is merged by its own id (not the VM id) and each repeat is reported', () => {
    const repeats: string[] = [];
    const check = new ListingCheck('acc', (r, n) => repeats.push(`${r.backupId}@${n}`));
    // Veeam: two restore points of one VM share the item id; only a repeated point is a repeat.
    const point = (p: string) => rec(p, { provider: 'veeam', id: 'vm-1', group: 'vm-1' });
    check.add({ records: [point('rp-1'), point('rp-2')], total: 3, next: '2' });
    check.add({ records: [point('rp-2'), point('rp-3')], total: 3 });
    assert.deepEqual(
      check.finish().map((r) => r.backupId),
      ['rp-1', 'rp-2', 'rp-3'],
    );
    assert.deepEqual(repeats, ['rp-2@2']);
  });
});

describe('adapters against the simulator: listing modes and unknown creation times', () => {
  let stack: Stack;
  let registry: AdapterRegistry;
  before(async () => {
    stack = await startStack(
      {
        veeam: { provider: 'veeam' },
        vbs: { provider: 'vbs' },
        jsa: { provider: 'jsa' },
        csbs: { provider: 'csbs' },
        taurusdb: { provider: 'taurusdb' },
      },
      { worker: false },
    );
    registry = new AdapterRegistry(stack.loaded);
  });
  after(async () => {
    await registry.close();
    await stack.stop();
  });

  test('Veeam ignoring Offset: page 2 says it starts at 0, and "is anything of the VM left" is never guessed', async () => {
    const appliance = stack.scope('veeam');
    stack.sim.seed('veeam', appliance, [
      { sim: { version: 'later', ignoreOffset: true, order: 'oldest-first' } },
      veeamVm('vm-early', 200, Date.now() - 400 * DAY),
      veeamVm('vm-late', 3, Date.now() - DAY),
    ]);
    const adapter = registry.get(stack.account('veeam'));
    const first = await adapter.listBackups(undefined, {});
    assert.deepEqual(first.offset, { asked: 0, answered: 0 });
    assert.equal(first.total, 203);
    assert.equal(first.next, '200');
    const second = await adapter.listBackups(first.next, {});
    assert.deepEqual(second.offset, { asked: 200, answered: 0 }, 'the appliance answered page 1 again');
    // vm-late is only on a page the appliance never serves: "not there" would report it deleted.
    await assert.rejects(
      adapter.neverRepeatDelete!.stillThere({ account: 'x', id: 'vm-late' }, {}),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, FAILURE.UntrustworthyListing);
        return true;
      },
    );
  });

  test('scope modes through the admin API: a VBS record repeated across the page boundary is merged once', async () => {
    const project = stack.scope('vbs');
    const res = await fetch(`${stack.sim.url}/_admin/modes`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'vbs', scope: project, modes: { repeatAcrossPages: true } }),
    });
    assert.equal(res.status, 200);
    stack.sim.seed(
      'vbs',
      project,
      Array.from({ length: 120 }, (_, i) => ({
        id: `mode-${String(i).padStart(3, '0')}`,
        status: 'available',
        volume_id: 'mode-vol',
        created_at: noZone(Date.UTC(2020, 0, 1) - i * 3_600_000),
      })),
    );
    const repeats: string[] = [];
    const check = new ListingCheck('acc', (r) => repeats.push(r.backupId));
    const adapter = registry.get(stack.account('vbs'));
    let listed = 0;
    for (let cursor: string | undefined, first = true; first || cursor; first = false) {
      const p = await adapter.listBackups(cursor, {});
      listed += p.records.length;
      check.add(p);
      cursor = p.next;
    }
    const distinct = check.finish().length;
    assert.equal(listed, distinct + 1, 'one record listed twice');
    assert.deepEqual(repeats, ['mode-099']);
    stack.sim.provider('vbs').configure!(project, { repeatAcrossPages: false });
  });

  test('a missing or unreadable creation time is passed on verbatim, on every provider', async () => {
    const t = Date.now() - 10 * DAY;
    stack.sim.seed('vbs', stack.scope('vbs'), [
      {
        id: 'vbs-no-time',
        status: 'available',
        volume_id: 'v',
        created_at: noZone(t),
        sim: { noCreatedAt: true },
      },
    ]);
    stack.sim.provider('veeam').configure!(stack.scope('veeam'), {
      ignoreOffset: false,
      order: 'newest-first',
    });
    stack.sim.seed('veeam', stack.scope('veeam'), [
      { id: 'vm-bad-time', restorePoints: [{ id: 'rp-bad', pointInTime: 'last tuesday' }] },
    ]);
    stack.sim.seed('jsa', stack.scope('jsa'), [{ id: 7, time_initiated: '1712345678' }]);
    stack.sim.seed('csbs', stack.scope('csbs'), [
      { id: 'ci-1', checkpoint_id: 'cp-1', resource_id: 'srv', created_at: '18/04/2017 01:21' },
    ]);
    stack.sim.seed('taurusdb', stack.scope('taurusdb'), [
      { id: 'tb-1', begin_time: 'yesterday', instance_id: 'i' },
    ]);
    const timeOf = async (account: string, backupId: string) => {
      const records = (await registry.get(stack.account(account)).listBackups(undefined, {})).records;
      return records.find((r) => r.backupId === backupId)?.createdAt;
    };
    assert.equal(await timeOf('vbs', 'vbs-no-time'), '', 'VBS without created_at: not 1970');
    assert.equal(await timeOf('veeam', 'rp-bad'), 'last tuesday');
    assert.equal(await timeOf('jsa', '7'), '1712345678', 'JSA: a string is not epoch milliseconds');
    assert.equal(await timeOf('csbs', 'ci-1'), '18/04/2017 01:21');
    assert.equal(await timeOf('taurusdb', 'tb-1'), 'yesterday');
  });
});

function veeamVm(id: string, points: number, newestMs: number): VeeamVm {
  return {
    id,
    restorePoints: Array.from({ length: points }, (_, i) => ({
      id: `${id}-rp-${String(i).padStart(3, '0')}`,
      pointInTime: new Date(newestMs - i * 3_600_000).toISOString(),
    })),
  };
}

describe('policy runs on untrustworthy listings (real stack, dryRun: false)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack({
      veeam: { provider: 'veeam' },
      vbs: { provider: 'vbs' },
      vbsrep: { provider: 'vbs' },
      taurusdb: { provider: 'taurusdb' },
    });
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  /** Delete calls that reached any simulated provider (Veeam deleteBackups included). */
  const deletes = () =>
    Object.values(stack.sim.ctx.counters.snapshot().deleteCalls).reduce((n, c) => n + c, 0);

  /** The run fails with UntrustworthyListing naming the account; returns the message. */
  async function failsUntrusted(id: string, account: string): Promise<string> {
    let message = '';
    await assert.rejects(rc.result(id), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError, String(err));
      let cause: unknown = err.cause;
      while (cause && !(cause instanceof ApplicationFailure)) cause = (cause as { cause?: unknown }).cause;
      assert.ok(cause instanceof ApplicationFailure, `no ApplicationFailure in ${String(err.cause)}`);
      assert.equal(cause.type, FAILURE.UntrustworthyListing);
      assert.match(cause.message, new RegExp(`^account ${account}: the listing cannot be trusted`));
      message = cause.message;
      return true;
    });
    return message;
  }

  test('Veeam ignoring Offset: the run stops before any delete (the old loop deleted a VM with a recent point)', async () => {
    const appliance = stack.scope('veeam');
    // Oldest first: page 1 holds 200 old points of vm-mixed; its recent point and vm-recent are on
    // page 2, which the appliance never serves. The old loop ended early and removed vm-mixed.
    stack.sim.seed('veeam', appliance, [
      { sim: { version: 'later', ignoreOffset: true, order: 'oldest-first' } },
      {
        id: 'vm-mixed',
        restorePoints: [
          ...veeamVm('vm-mixed', 200, Date.now() - 100 * DAY).restorePoints!,
          { id: 'vm-mixed-new', pointInTime: new Date(Date.now() - DAY).toISOString() },
        ],
      },
      veeamVm('vm-recent', 5, Date.now() - DAY),
    ]);
    stack.sim.seed('vbs', stack.scope('vbs'), [
      { id: 'vbs-old', status: 'available', volume_id: 'vol', created_at: noZone(Date.now() - 90 * DAY) },
      { id: 'vbs-new', status: 'available', volume_id: 'vol', created_at: noZone(Date.now() - DAY) },
    ]);
    const id = await rc.start({
      policy: {
        accounts: [stack.account('veeam'), stack.account('vbs')],
        rules: { deleteOlderThan: '30d' },
        olderThanVmThreshold: '30d',
        minKeep: 0,
      },
      dryRun: false,
    });
    const message = await failsUntrusted(id, stack.account('veeam'));
    assert.match(message, /page 2 was asked from offset 200 and the provider answered from offset 0/);
    // The run fails as a whole on any account's planning error: the good VBS account deletes nothing either.
    assert.equal(deletes(), 0, 'no delete reached any provider');
    assert.equal(stack.sim.ctx.counters.snapshot().sessionsPerVm[`veeam:${appliance}:vm-mixed`] ?? 0, 0);
  });

  test('TaurusDB count grows while listing (a page may have skipped one): the run stops before any delete', async () => {
    const project = stack.scope('taurusdb');
    stack.sim.seed('taurusdb', project, [
      { sim: { repeatAcrossPages: true } },
      ...Array.from({ length: 150 }, (_, i) => ({
        id: `tdb-${String(i).padStart(3, '0')}`,
        begin_time: new Date(Date.now() - (i + 1) * DAY).toISOString().replace(/\.\d+Z$/, '+0000'),
        instance_id: 'inst-1',
      })),
    ]);
    const id = await rc.start({
      policy: { accounts: [stack.account('taurusdb')], rules: { keepLast: 10 } },
      dryRun: false,
    });
    assert.match(
      await failsUntrusted(id, stack.account('taurusdb')),
      /count changed from 150 to 151 at page 2/,
    );
    assert.equal(deletes(), 0, 'no delete reached any provider');
  });

  test('VBS repeating a record across a page boundary: merged and logged, the plan keeps exactly keepLast', async () => {
    const project = stack.scope('vbsrep');
    stack.sim.provider('vbs').configure!(project, { repeatAcrossPages: true });
    const backups = Array.from({ length: 150 }, (_, i) => ({
      id: `rep-${String(i).padStart(3, '0')}`,
      status: 'available',
      volume_id: 'rep-vol',
      created_at: noZone(Date.now() - (i + 1) * 3_600_000),
    }));
    stack.sim.seed('vbs', project, backups);
    const logs = captureWorkerLogs();
    const before = deletes();
    // The 100th newest (rep-099) is listed twice; counted twice, keep-last 101 would delete rep-100.
    const id = await rc.start({
      policy: { accounts: [stack.account('vbsrep')], rules: { keepLast: 101 } },
      dryRun: false,
    });
    const summary = await rc.result(id);
    logs.stop();
    assert.equal(summary.counts.deleted, 49);
    assert.equal(deletes() - before, 49);
    const left = new Set((stack.sim.provider('vbs').list(project) as Array<{ id: string }>).map((b) => b.id));
    assert.ok(left.has('rep-100'), 'rep-100 is one of the newest 101 distinct backups');
    assert.ok(!left.has('rep-101'));
    const repeat = logs.lines.find((l) => /listed twice/.test(l.message));
    assert.ok(repeat, 'the repeat is logged');
    assert.equal(repeat.meta?.account, stack.account('vbsrep'));
    assert.equal(repeat.meta?.id, 'rep-099');
  });

  test('a VBS backup without created_at is kept ("creation time unknown"), never deleted as 1970', async () => {
    const project = stack.scope('vbs');
    stack.sim.seed('vbs', project, [
      { id: 'nt-old', status: 'available', volume_id: 'nt-vol', created_at: noZone(Date.now() - 60 * DAY) },
      { id: 'nt-new', status: 'available', volume_id: 'nt-vol', created_at: noZone(Date.now() - DAY) },
      // Its real time is old, but the provider does not say so.
      {
        id: 'nt-none',
        status: 'available',
        volume_id: 'nt-vol',
        created_at: noZone(Date.now() - 90 * DAY),
        sim: { noCreatedAt: true },
      },
    ]);
    const id = await rc.start({
      policy: { accounts: [stack.account('vbs')], rules: { deleteOlderThan: '30d' }, groups: ['nt-vol'] },
      dryRun: false,
    });
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 1);
    const left = (stack.sim.provider('vbs').list(project) as Array<{ id: string }>)
      .map((b) => b.id)
      .filter((b) => b.startsWith('nt-'));
    assert.deepEqual(left.sort(), ['nt-new', 'nt-none']);
    // A dry run shows why it stays.
    const dry = await rc.start({
      policy: { accounts: [stack.account('vbs')], rules: { deleteOlderThan: '30d' }, groups: ['nt-vol'] },
    });
    await rc.result(dry);
    const kept = (await reportOf(rc, dry)).find((o) => o.id === 'nt-none');
    assert.match(kept?.reason ?? '', /creation time unknown \(not given by the provider\)/);
  });
});

/**
 * Plan, approve, apply (issue 14; README, "Approving deletions"), end to end against the real dev
 * server and the VBS simulator over HTTP: a run that needs approval plans, then waits with nothing
 * sent to the provider; `plan` shows the exact set and its hash; `approve` with that hash (by an
 * allowed approver) lets it delete exactly that set, `reject` or the timeout end it with every item
 * skipped. Policy runs list again after approval: an approved backup that is now protected is
 * skipped, a backup that newly qualifies is not touched.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { ApprovalRefusedError } from '../client/approval';
import { MAX_APPROVAL_DELETIONS, type RunPlan } from '../contract/approval';
import type { CleanupRequestInput } from '../contract/request';
import { startStack, type Stack } from './helpers/stack';
import { reportOf, waitFor } from './helpers/runs';
import { runCli, show } from './helpers/run-cli';

const DAY = 86_400_000;
const noZone = (ms: number) => new Date(ms).toISOString().replace('Z', '');

/** One volume with 5 daily backups, newest first: `${prefix}-d0` … `${prefix}-d4`. */
function seedVolume(stack: Stack, account: string, prefix: string) {
  const now = Date.now();
  const backups = Array.from({ length: 5 }, (_, d) => ({
    id: `${prefix}-d${d}`,
    name: `nightly-${d}`,
    status: 'available',
    volume_id: `${prefix}-vol`,
    created_at: noZone(now - (d * DAY + 3_600_000)),
  }));
  stack.sim.seed('vbs', stack.scope(account), backups);
  return backups;
}

const idsLeft = (stack: Stack, account: string, prefix: string) =>
  (stack.sim.provider('vbs').list(stack.scope(account)) as Array<{ id: string }>)
    .map((b) => b.id)
    .filter((id) => id.startsWith(prefix))
    .sort();

describe('plan, approve, apply', () => {
  let stack: Stack;
  let rc: RetentionClient;
  const deletes = () => stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0;

  /** A webhook receiver on loopback: the bodies of the notifications the worker sends. */
  const received: Array<Record<string, unknown>> = [];
  let hook: Server;

  before(async () => {
    hook = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(text) as Record<string, unknown>);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    stack = await startStack(
      { vbs: { provider: 'vbs' }, gated: { provider: 'vbs', requireApproval: true } },
      { config: { notifications: [{ url, events: ['awaiting-approval', 'guard-violation'] }] } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => {
    await stack.stop();
    await new Promise<void>((r) => hook.close(() => r()));
  });

  const policyRun = (prefix: string, extra: Partial<CleanupRequestInput> = {}): CleanupRequestInput => ({
    policy: {
      accounts: [stack.account('vbs')],
      rules: { keepLast: 2 },
      groups: [`${prefix}-vol`],
      protect: { namePatterns: ['keep-forever-*'] },
    },
    dryRun: false,
    approval: { required: true },
    ...extra,
  });

  /** Waits (on the run's own answer) until it awaits approval, then returns its plan. */
  async function awaitingPlan(id: string): Promise<RunPlan> {
    await waitFor(
      `${id} awaiting approval`,
      async () => (await rc.getProgress(id)).state === 'awaiting-approval',
    );
    return rc.getPlan(id);
  }

  test('a policy run waits with its plan; a wrong hash is refused; approval deletes exactly the plan, re-checked', async () => {
    seedVolume(stack, 'vbs', 'apr');
    const before = deletes();
    const id = await rc.start(policyRun('apr', { approval: { required: true, approvers: ['alice'] } }));
    const plan = await awaitingPlan(id);
    assert.match(plan.planHash, /^[0-9a-f]{64}$/);
    assert.equal(plan.toDelete, 3);
    assert.deepEqual(
      plan.items?.map((i) => i.id).sort(),
      ['apr-d2', 'apr-d3', 'apr-d4'],
      'the exact set the rules delete',
    );
    assert.deepEqual(plan.accounts, [
      {
        account: stack.account('vbs'),
        provider: 'vbs',
        toDelete: 3,
        kept: 2,
        listed: 5,
        toDeleteBytes: 3 * 10 * 2 ** 30,
      },
    ]);
    assert.equal(plan.approval.state, 'awaiting');
    assert.deepEqual(plan.approval.approvers, ['alice']);

    // Refused: another hash, an approver not in the list; nothing changes, nothing is deleted.
    await assert.rejects(
      rc.approve(id, { planHash: 'f'.repeat(64), approver: 'alice' }),
      (err: unknown) =>
        err instanceof ApprovalRefusedError && /planHash: .* is not the plan/.test(err.reason),
    );
    await assert.rejects(
      rc.approve(id, { planHash: plan.planHash, approver: 'mallory' }),
      (err: unknown) => err instanceof ApprovalRefusedError && /"mallory" may not approve/.test(err.reason),
    );
    assert.equal((await rc.getProgress(id)).state, 'awaiting-approval');
    assert.equal(deletes(), before, 'nothing reached the provider while awaiting approval');

    // Between plan and approval: one approved backup becomes protected, one new backup qualifies.
    stack.sim.seed('vbs', stack.scope('vbs'), [
      {
        id: 'apr-d3',
        name: 'keep-forever-audit',
        status: 'available',
        volume_id: 'apr-vol',
        created_at: noZone(Date.now() - (3 * DAY + 3_600_000)),
      },
      {
        id: 'apr-d9',
        name: 'late-arrival',
        status: 'available',
        volume_id: 'apr-vol',
        created_at: noZone(Date.now() - 9 * DAY),
      },
    ]);

    const ok = await rc.approve(id, { planHash: plan.planHash, approver: 'alice', comment: 'checked' });
    assert.equal(ok.planHash, plan.planHash);
    await assert.rejects(
      rc.approve(id, { planHash: plan.planHash, approver: 'alice' }),
      (err: unknown) => err instanceof ApprovalRefusedError && /already approved by alice/.test(err.reason),
    );
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 2);
    const outcomes = new Map((await reportOf(rc, id)).map((o) => [o.id, o]));
    assert.equal(outcomes.get('apr-d3')?.outcome, 'skipped');
    assert.equal(outcomes.get('apr-d3')?.reason, 'plan changed since approval');
    assert.equal(outcomes.has('apr-d9'), false, 'a backup that newly qualifies is not part of the run');
    assert.deepEqual(idsLeft(stack, 'vbs', 'apr'), ['apr-d0', 'apr-d1', 'apr-d3', 'apr-d9']);
    assert.equal(deletes() - before, 2, 'exactly the approved, still-planned backups were deleted');

    const memo = (await rc.handle(id).describe()).memo as Record<string, unknown>;
    const approval = memo.approval as Record<string, unknown>;
    assert.equal(approval.approver, 'alice');
    assert.equal(approval.comment, 'checked');
    assert.equal(approval.planHash, plan.planHash);
    assert.ok(!Number.isNaN(Date.parse(String(approval.at))));
    // The report's header says who approved which plan, so a report file stands on its own.
    const header = await rc.reportSummary(id);
    assert.equal(header.approver, 'alice');
    assert.equal(header.approvalComment, 'checked');
    assert.equal(header.planHash, plan.planHash);
    assert.equal(outcomes.get('apr-d3')?.decidedBy?.startsWith('run (plan changed since approval)'), true);
  });

  test('reject: every item skipped with the approver named, nothing deleted', async () => {
    seedVolume(stack, 'vbs', 'rej');
    const before = deletes();
    const id = await rc.start(policyRun('rej'));
    await awaitingPlan(id);
    await assert.rejects(
      rc.reject(id, { approver: 'bob', reason: '   ' }),
      (err: unknown) => err instanceof ApprovalRefusedError && /reason: say why/.test(err.reason),
    );
    await rc.reject(id, { approver: 'bob', reason: 'wrong volume' });
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 0);
    assert.equal(summary.counts.skipped, 3);
    for (const o of await reportOf(rc, id))
      assert.equal(o.reason, 'not deleted: plan rejected by bob: wrong volume');
    assert.equal(deletes(), before);
    assert.equal(idsLeft(stack, 'vbs', 'rej').length, 5);
  });

  test('an approval that does not come in time: every item skipped, "approval timed out"', async () => {
    seedVolume(stack, 'vbs', 'tmo');
    const before = deletes();
    const id = await rc.start(policyRun('tmo', { approval: { required: true, timeout: '3s' } }));
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 0);
    assert.equal(summary.counts.skipped, 3);
    assert.equal(summary.cancelReason, 'approval timed out');
    for (const o of await reportOf(rc, id)) assert.equal(o.reason, 'not deleted: approval timed out');
    assert.equal(deletes(), before);
  });

  test('an account with requireApproval makes an item-list run wait, whatever the request says', async () => {
    seedVolume(stack, 'gated', 'gat');
    const before = deletes();
    const items = [
      { account: stack.account('gated'), id: 'gat-d3' },
      { account: stack.account('gated'), id: 'gat-d4' },
    ];
    // The request says no approval; the account's requireApproval wins. Nobody decides: until the
    // deadline nothing is sent (a batch that had started would have deleted both by then).
    const undecided = await rc.start({ items, dryRun: false, approval: { required: false, timeout: '3s' } });
    const timedOut = await rc.result(undecided);
    assert.equal(timedOut.cancelReason, 'approval timed out');
    assert.equal(timedOut.counts.skipped, 2);
    assert.equal(deletes(), before, 'nothing reached the provider while the run waited');

    const id = await rc.start({ items, dryRun: false });
    const plan = await awaitingPlan(id);
    assert.deepEqual(plan.accounts, [{ account: stack.account('gated'), provider: 'vbs', toDelete: 2 }]);
    await rc.approve(id, { planHash: plan.planHash, approver: 'carol' });
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 2);
    assert.deepEqual(idsLeft(stack, 'gated', 'gat'), ['gat-d0', 'gat-d1', 'gat-d2']);
  });

  test('a plan too large to hold for approval stops before any deletion, saying to split the request', async () => {
    const before = deletes();
    const items = Array.from({ length: MAX_APPROVAL_DELETIONS + 1 }, (_, i) => ({
      account: stack.account('vbs'),
      id: `big-${String(i).padStart(6, '0')}`,
    }));
    const id = await rc.start({ items, dryRun: false, approval: { required: true } });
    const summary = await rc.result(id);
    assert.equal(summary.cancelReason?.includes(`at most ${MAX_APPROVAL_DELETIONS} deletions per run`), true);
    assert.equal(summary.counts.skipped, MAX_APPROVAL_DELETIONS + 1);
    assert.equal(deletes(), before, 'nothing reached the provider');
  });

  test('guards.onViolation "await-approval": a crossed guard waits with the violation in the plan', async () => {
    seedVolume(stack, 'vbs', 'gvi');
    const before = deletes();
    const id = await rc.start(
      policyRun('gvi', { approval: undefined, guards: { maxDeletions: 1, onViolation: 'await-approval' } }),
    );
    const plan = await awaitingPlan(id);
    assert.equal(plan.toDelete, 3);
    assert.match(plan.guardViolations.join('\n'), /maxDeletions/);
    assert.equal(deletes(), before);
    // The hooks: a guard-violation and an awaiting-approval notification naming this plan.
    const events = await waitFor('the two notifications', () => {
      const mine = received.filter((b) => b.workflowId === id);
      return mine.length >= 2 ? mine : undefined;
    });
    assert.deepEqual(events.map((b) => b.event).sort(), ['awaiting-approval', 'guard-violation']);
    assert.equal(events.find((b) => b.event === 'awaiting-approval')?.planHash, plan.planHash);
    await rc.approve(id, { planHash: plan.planHash, approver: 'dave' });
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 3);
  });

  test('a run that needs no approval is refused approval and deletes as before', async () => {
    const id = await rc.start({ items: [{ account: stack.account('vbs'), id: 'nope-1' }], dryRun: true });
    await rc.result(id);
    await assert.rejects(
      rc.approve(id, { planHash: 'x', approver: 'alice' }),
      (err: unknown) => err instanceof Error,
    );
  });

  test('schedule create --require-approval: the nightly run plans and waits; approving it deletes', async () => {
    seedVolume(stack, 'vbs', 'sch');
    const before = deletes();
    const dir = mkdtempSync(join(tmpdir(), 'rc-approval-'));
    const file = join(dir, 'request.json');
    writeFileSync(file, JSON.stringify(policyRun('sch', { approval: undefined })));
    const scheduleId = `nightly-approval-${stack.account('vbs')}`;
    const created = await runCli([
      'schedule',
      'create',
      scheduleId,
      file,
      '--every',
      '24h',
      '--paused',
      '--execute',
      '--require-approval',
      '--task-queue',
      stack.taskQueue,
    ]);
    assert.equal(created.code, 0, show(created));
    try {
      const { workflowId } = await rc.schedules.trigger(scheduleId, { waitMs: 30_000 });
      assert.ok(workflowId, 'the schedule started a run');
      const plan = await awaitingPlan(workflowId);
      assert.equal(plan.toDelete, 3);
      assert.equal(deletes(), before, 'the scheduled run waits with nothing deleted');
      await rc.approve(workflowId, { planHash: plan.planHash, approver: 'morning-shift' });
      assert.equal((await rc.result(workflowId)).counts.deleted, 3);
    } finally {
      await rc.schedules.delete(scheduleId);
    }
  });

  test('CLI: plan, approve (refused: non-zero exit with the reason) and reject', async () => {
    seedVolume(stack, 'vbs', 'cli');
    const id = await rc.start(policyRun('cli', { approval: { required: true, approvers: ['alice'] } }));
    const plan = await awaitingPlan(id);

    const shown = await runCli(['plan', id]);
    assert.equal(shown.code, 0, show(shown));
    assert.match(shown.stdout, new RegExp(plan.planHash));
    assert.match(shown.stdout, /retention-cleanup approve .* --plan-hash/);
    const json = await runCli(['plan', id, '--json']);
    assert.equal(json.code, 0, show(json));
    assert.equal((JSON.parse(json.stdout) as RunPlan).planHash, plan.planHash);

    const wrong = await runCli(['approve', id, '--plan-hash', '0'.repeat(64), '--approver', 'alice']);
    assert.notEqual(wrong.code, 0, show(wrong));
    assert.match(wrong.stderr, /refused: planHash/);
    const missing = await runCli(['approve', id, '--plan-hash', plan.planHash]);
    assert.equal(missing.code, 2, show(missing));
    assert.match(missing.stderr, /--approver/);

    const rejected = await runCli(['reject', id, '--approver', 'alice', '--reason', 'not tonight']);
    assert.equal(rejected.code, 0, show(rejected));
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 0);
    const status = await runCli(['status', id]);
    assert.match(status.stdout, /Stopped: {2}plan rejected by alice: not tonight/, show(status));
    const again = await runCli(['approve', id, '--plan-hash', plan.planHash, '--approver', 'alice']);
    assert.notEqual(again.code, 0, show(again));
  });
});

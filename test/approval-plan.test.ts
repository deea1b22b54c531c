/**
 * The pure parts of approval (README, "Approving deletions"): the workflow's own SHA-256 agrees with
 * node:crypto, the plan hash names one exact set under one request, the gate refuses what it must with
 * a reason naming the field, and bad `approval` / `onViolation` / `requireApproval` input is refused
 * naming the field and the fix.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { parseCleanupRequest } from '../contract/request';
import { ApprovalGate, planHashOf } from '../workflows/run/approval-gate';
import { sha256Hex } from '../workflows/run/sha256';
import { parseWorkerConfig, accountLimits } from '../worker/config';

describe('approval: plan hash, gate and input', () => {
  test('sha256Hex is SHA-256 (padding edges, multi-byte text, long input)', () => {
    for (const text of [
      '',
      'abc',
      'a'.repeat(55),
      'a'.repeat(56),
      'a'.repeat(64),
      'é€𝄞',
      'x'.repeat(100_000),
    ])
      assert.equal(sha256Hex(text), createHash('sha256').update(text).digest('hex'), `length ${text.length}`);
  });

  test('the plan hash: same set in any order → same hash; another item or another request → another', () => {
    const request = { policy: { accounts: ['a'], rules: { keepLast: 2 } }, dryRun: false };
    const h = planHashOf(['a/1', 'a/2', 'b/3'], request);
    assert.equal(planHashOf(['b/3', 'a/1', 'a/2', 'a/1'], { dryRun: false, policy: request.policy }), h);
    assert.notEqual(planHashOf(['a/1', 'a/2'], request), h, 'one item less');
    assert.notEqual(planHashOf(['a/1', 'a/2', 'b/3'], { ...request, dryRun: true }), h, 'another request');
    assert.notEqual(
      planHashOf(['a/1', 'a/2', 'b/3'], {
        ...request,
        policy: { ...request.policy, rules: { keepLast: 1 } },
      }),
      h,
      'another policy',
    );
  });

  test('the gate refuses a wrong hash, an approver not listed, a blank reason, and a run not awaiting', () => {
    const gate = new ApprovalGate();
    gate.add([{ key: 'a/1', account: 'a', id: '1' }], 0);
    assert.match(gate.refuseApprove({ planHash: 'x', approver: 'alice' })!, /not awaiting approval/);
    const hash = gate.hash({ dryRun: false });
    gate.open(hash, '2026-12-05T00:00:00.000Z', ['alice']);
    assert.match(gate.refuseApprove({ planHash: 'x', approver: 'alice' })!, /^planHash: "x" is not the plan/);
    assert.match(
      gate.refuseApprove({ planHash: hash, approver: 'bob' })!,
      /^approver: "bob" may not approve/,
    );
    assert.match(gate.refuseReject({ approver: 'alice', reason: ' ' })!, /^reason: /);
    // Free text is bounded: it goes into the memo, every skipped item's reason and the report header.
    assert.match(
      gate.refuseApprove({ planHash: hash, approver: 'alice', comment: 'x'.repeat(1001) })!,
      /^comment: at most 1000 characters \(got 1001\)/,
    );
    assert.match(
      gate.refuseReject({ approver: 'alice', reason: 'x'.repeat(1001) })!,
      /^reason: at most 1000/,
    );
    assert.match(
      gate.refuseApprove({ planHash: hash, approver: 'a'.repeat(101) })!,
      /^approver: at most 100/,
    );
    assert.equal(
      gate.refuseApprove({ planHash: hash, approver: 'alice', comment: 'x'.repeat(1000) }),
      undefined,
    );
    assert.equal(gate.refuseApprove({ planHash: hash, approver: 'alice' }), undefined);
    gate.approve({ planHash: hash, approver: 'alice' }, '2026-12-04T08:00:00.000Z');
    assert.match(gate.refuseReject({ approver: 'alice', reason: 'late' })!, /already approved by alice/);
  });

  test('once applied, the gate keeps counts and the hash, not the keys (a small continue-as-new input)', () => {
    const gate = new ApprovalGate();
    gate.add(
      [
        { key: 'a/1', account: 'a', id: '1' },
        { key: 'a/2', account: 'a', id: '2' },
        { key: 'b/3', account: 'b', id: '3' },
      ],
      0,
    );
    const request = { dryRun: false };
    const hash = gate.peekHash(request);
    gate.compact(request);
    assert.deepEqual(gate.c.refs, []);
    assert.deepEqual(gate.c.entries, []);
    assert.deepEqual(
      [...gate.deletionsPerAccount()],
      [
        ['a', 2],
        ['b', 1],
      ],
    );
    assert.equal(gate.peekHash(request), hash);
  });

  test('bad approval and onViolation input is refused naming the field', () => {
    const base = { items: [{ account: 'a', id: '1' }], dryRun: false };
    const problems = (extra: Record<string, unknown>) => {
      const r = parseCleanupRequest({ ...base, ...extra });
      assert.equal(r.ok, false, JSON.stringify(extra));
      return (r as { problems: string[] }).problems.join('\n');
    };
    assert.match(
      problems({ approval: { required: true, timeout: '0h' } }),
      /^approval\.timeout: expected a duration/m,
    );
    assert.match(
      problems({ approval: { required: true, timeout: '45d' } }),
      /^approval\.timeout: .*at most 30d/m,
    );
    assert.match(
      problems({ approval: { required: true, approvers: [] } }),
      /^approval\.approvers: name at least one/m,
    );
    assert.match(problems({ approval: { required: 'yes' } }), /^approval\.required: expected true or false/m);
    assert.match(problems({ approval: { required: true, who: 1 } }), /^approval: unknown field\(s\) "who"/m);
    assert.match(
      problems({ guards: { onViolation: 'wait' } }),
      /^guards\.onViolation: expected "fail".*"await-approval"/m,
    );
    assert.ok(
      parseCleanupRequest({ ...base, approval: { required: true, timeout: '30m', approvers: ['a'] } }).ok,
    );
  });

  test('worker config requireApproval: only true reaches the workflows; a wrong type names the field', () => {
    const account = (extra: Record<string, unknown>) => ({
      accounts: {
        gated: {
          provider: 'jsa',
          endpoint: 'https://jsa.example',
          credentials: { token: { env: 'T' } },
          ...extra,
        },
      },
    });
    const loaded = parseWorkerConfig(account({ requireApproval: true }), 'test');
    assert.equal(accountLimits('gated', loaded.config.accounts.gated!).requireApproval, true);
    const plain = parseWorkerConfig(account({}), 'test');
    assert.equal('requireApproval' in accountLimits('gated', plain.config.accounts.gated!), false);
    assert.throws(
      () => parseWorkerConfig(account({ requireApproval: 'yes' }), 'test'),
      /gated\.requireApproval: expected true/,
    );
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupRecord, ItemRef } from '../contract/model';
import {
  checkGuards,
  groupOfFromRecords,
  guardsSchema,
  planRetention,
  populationFromRecords,
  type GuardResult,
  type GuardViolation,
  type Population,
} from '../policy';

/** `n` deletion items in `account`, all in `group`. */
function items(account: string, n: number, prefix = 'b'): ItemRef[] {
  return Array.from({ length: n }, (_, i) => ({ account, id: `${prefix}-${i}` }));
}

const byGroup =
  (group: string) =>
  (_item: ItemRef): string =>
    group;

function violations(result: GuardResult): GuardViolation[] {
  assert.ok(!result.ok, 'expected the guards to fail');
  return result.violations;
}

const population: Population = {
  perAccount: { 'vbs-prod': 100, 'csbs-dev': 10 },
  perGroup: { 'vbs-prod/vm-1': 20, 'vbs-prod/vm-2': 80, 'csbs-dev/srv-1': 10 },
};

// ---------------------------------------------------------------------------------------------
// maxDeletions

void test('maxDeletions passes at and under the limit', () => {
  assert.deepEqual(
    checkGuards({ deletions: items('vbs-prod', 10) }, population, byGroup('vm-2'), { maxDeletions: 10 }),
    {
      ok: true,
    },
  );
  assert.deepEqual(checkGuards({ deletions: [] }, population, byGroup('vm-2'), { maxDeletions: 0 }), {
    ok: true,
  });
});

void test('maxDeletions fails over the limit, naming the guard, the scope and the excess', () => {
  const deletions = [...items('vbs-prod', 8), ...items('csbs-dev', 4)];
  const [v, ...rest] = violations(checkGuards({ deletions }, population, byGroup('x'), { maxDeletions: 10 }));
  assert.equal(rest.length, 0);
  assert.deepEqual(
    { guard: v?.guard, scope: v?.scope, limit: v?.limit, actual: v?.actual, excess: v?.excess },
    { guard: 'maxDeletions', scope: 'all accounts', limit: 10, actual: 12, excess: 2 },
  );
  assert.equal(
    v?.message,
    'maxDeletions: the plan would delete 12 backups over all accounts (limit 10); 2 over',
  );
});

void test('duplicated deletion items count once', () => {
  const deletions = [...items('vbs-prod', 5), ...items('vbs-prod', 5)];
  assert.deepEqual(checkGuards({ deletions }, population, byGroup('vm-2'), { maxDeletions: 5 }), {
    ok: true,
  });
});

// ---------------------------------------------------------------------------------------------
// maxFractionPerAccount

void test('maxFractionPerAccount passes at and under the limit', () => {
  const guards = { maxFractionPerAccount: 0.5 };
  assert.deepEqual(checkGuards({ deletions: items('vbs-prod', 50) }, population, byGroup('vm-2'), guards), {
    ok: true,
  });
  assert.deepEqual(checkGuards({ deletions: items('vbs-prod', 49) }, population, byGroup('vm-2'), guards), {
    ok: true,
  });
});

void test('maxFractionPerAccount fails over the limit, naming the guard, the account and the excess', () => {
  const result = checkGuards({ deletions: items('vbs-prod', 62) }, population, byGroup('vm-2'), {
    maxFractionPerAccount: 0.5,
  });
  const [v, ...rest] = violations(result);
  assert.equal(rest.length, 0);
  assert.equal(v?.guard, 'maxFractionPerAccount');
  assert.equal(v?.scope, 'vbs-prod');
  assert.equal(v?.limit, 0.5);
  assert.equal(v?.actual, 0.62);
  assert.equal(v?.excess, 12);
  assert.equal(
    v?.message,
    'maxFractionPerAccount: account "vbs-prod" would lose 62% of its 100 backups (62 deletions, limit 50%); 12 over',
  );
});

void test('maxFractionPerAccount checks each account on its own and reports them in order', () => {
  const deletions = [...items('vbs-prod', 10), ...items('csbs-dev', 3)];
  const vs = violations(checkGuards({ deletions }, population, byGroup('x'), { maxFractionPerAccount: 0.2 }));
  assert.deepEqual(
    vs.map((v) => v.message),
    [
      'maxFractionPerAccount: account "csbs-dev" would lose 30% of its 10 backups (3 deletions, limit 20%); 1 over',
    ],
  );
});

void test('percentages get decimals when rounding would hide the excess; limits like 0.29 are exact', () => {
  const big: Population = { perAccount: { a: 1000 }, perGroup: {} };
  const [v] = violations(
    checkGuards({ deletions: items('a', 501) }, big, byGroup('g'), { maxFractionPerAccount: 0.5 }),
  );
  assert.match(
    v?.message ?? '',
    /would lose 50\.1% of its 1000 backups \(501 deletions, limit 50%\); 1 over$/,
  );
  const hundred: Population = { perAccount: { a: 100 }, perGroup: {} };
  assert.deepEqual(
    checkGuards({ deletions: items('a', 29) }, hundred, byGroup('g'), { maxFractionPerAccount: 0.29 }),
    {
      ok: true,
    },
  );
});

void test('an account missing from the population fails the guard instead of passing it', () => {
  const [v] = violations(
    checkGuards({ deletions: items('unknown', 2) }, population, byGroup('x'), { maxFractionPerAccount: 0.9 }),
  );
  assert.equal(v?.scope, 'unknown');
  assert.match(
    v?.message ?? '',
    /^maxFractionPerAccount: account "unknown" would lose 2 backups but the population has no backup count for it/,
  );
  const inherited = checkGuards({ deletions: items('constructor', 1) }, population, byGroup('x'), {
    maxFractionPerAccount: 1,
  });
  assert.ok(!inherited.ok, 'an inherited property is not a count');
});

// ---------------------------------------------------------------------------------------------
// maxFractionPerGroup

void test('maxFractionPerGroup passes at and under the limit', () => {
  const guards = { maxFractionPerGroup: 0.25 };
  assert.deepEqual(checkGuards({ deletions: items('vbs-prod', 5) }, population, byGroup('vm-1'), guards), {
    ok: true,
  });
  assert.deepEqual(checkGuards({ deletions: items('vbs-prod', 20) }, population, byGroup('vm-2'), guards), {
    ok: true,
  });
});

void test('maxFractionPerGroup fails over the limit, naming the guard, the group and the excess', () => {
  const result = checkGuards({ deletions: items('vbs-prod', 20) }, population, byGroup('vm-1'), {
    maxFractionPerGroup: 0.25,
  });
  const [v, ...rest] = violations(result);
  assert.equal(rest.length, 0);
  assert.equal(v?.guard, 'maxFractionPerGroup');
  assert.equal(v?.scope, 'vbs-prod/vm-1');
  assert.equal(v?.excess, 15);
  assert.equal(
    v?.message,
    'maxFractionPerGroup: group "vm-1" of account "vbs-prod" would lose 100% of its 20 backups (20 deletions, limit 25%); 15 over',
  );
});

void test('maxFractionPerGroup fails for an item whose group is unknown', () => {
  const [v] = violations(
    checkGuards({ deletions: items('vbs-prod', 1) }, population, () => undefined, { maxFractionPerGroup: 1 }),
  );
  assert.equal(v?.scope, 'vbs-prod/b-0');
  assert.match(v?.message ?? '', /^maxFractionPerGroup: item "vbs-prod\/b-0" belongs to no known group/);
});

void test('all guards are checked together, in a fixed order', () => {
  const deletions = items('vbs-prod', 20);
  const vs = violations(
    checkGuards({ deletions }, population, byGroup('vm-1'), {
      maxDeletions: 5,
      maxFractionPerAccount: 0.1,
      maxFractionPerGroup: 0.5,
    }),
  );
  assert.deepEqual(
    vs.map((v) => `${v.guard} ${v.scope} ${v.excess}`),
    [
      'maxDeletions all accounts 15',
      'maxFractionPerAccount vbs-prod 10',
      'maxFractionPerGroup vbs-prod/vm-1 10',
    ],
  );
});

// ---------------------------------------------------------------------------------------------
// Schema and helpers

void test('guardsSchema bounds', () => {
  assert.ok(guardsSchema.safeParse({}).success);
  assert.ok(
    guardsSchema.safeParse({ maxDeletions: 0, maxFractionPerAccount: 0, maxFractionPerGroup: 1 }).success,
  );
  for (const bad of [
    { maxDeletions: -1 },
    { maxDeletions: 1.5 },
    { maxDeletions: 2_000_000 },
    { maxFractionPerAccount: 50 },
    { maxFractionPerGroup: -0.1 },
    { maxFraction: 0.5 },
  ]) {
    assert.ok(!guardsSchema.safeParse(bad).success, JSON.stringify(bad));
  }
  const typo = guardsSchema.safeParse({ maxFraction: 0.5 });
  assert.match(
    typo.error?.issues[0]?.message ?? '',
    /unknown field\(s\) "maxFraction"; possible fields: maxDeletions, /,
  );
  assert.throws(
    () => checkGuards({ deletions: [] }, population, byGroup('x'), { maxFractionPerAccount: 50 }),
    /invalid guards: maxFractionPerAccount: expected a fraction between 0 and 1/,
  );
});

void test('population and groups from a listing: Veeam counts VMs, which is what its deletion items are', () => {
  const vbs = (id: string, group: string): BackupRecord => ({
    account: 'vbs-prod',
    provider: 'vbs',
    id,
    backupId: id,
    createdAt: '2020-01-01T00:00:00Z',
    status: 'available',
    successful: true,
    group,
    deletable: { ok: true },
  });
  const veeam = (vm: string, rp: string): BackupRecord => ({
    ...vbs(vm, vm),
    account: 'veeam-1',
    provider: 'veeam',
    backupId: rp,
  });
  const records = [
    vbs('b1', 'vol-1'),
    vbs('b2', 'vol-1'),
    vbs('b3', 'vol-2'),
    veeam('vm-1', 'rp-1'),
    veeam('vm-1', 'rp-2'),
    veeam('vm-2', 'rp-3'),
  ];
  const pop = populationFromRecords(records);
  assert.deepEqual(pop, {
    perAccount: { 'vbs-prod': 3, 'veeam-1': 2 },
    perGroup: { 'vbs-prod/vol-1': 2, 'vbs-prod/vol-2': 1, 'veeam-1/vm-1': 1, 'veeam-1/vm-2': 1 },
  });
  const groupOf = groupOfFromRecords(records);
  assert.equal(groupOf({ account: 'vbs-prod', id: 'b3' }), 'vol-2');
  assert.equal(groupOf({ account: 'vbs-prod', id: 'nope' }), undefined);

  // End to end: a plan that would empty vol-1 is stopped by the per-group guard.
  const plan = planRetention(
    records,
    { rules: { deleteOlderThan: '1d' }, minKeep: 0, groups: ['vol-1'] },
    '2024-01-01',
  );
  assert.deepEqual(plan.deletions, [
    { account: 'vbs-prod', id: 'b1' },
    { account: 'vbs-prod', id: 'b2' },
  ]);
  const [v] = violations(checkGuards(plan, pop, groupOf, { maxFractionPerGroup: 0.5 }));
  assert.equal(
    v?.message,
    'maxFractionPerGroup: group "vol-1" of account "vbs-prod" would lose 100% of its 2 backups (2 deletions, limit 50%); 1 over',
  );
  assert.deepEqual(checkGuards(plan, pop, groupOf, { maxFractionPerAccount: 0.7 }), { ok: true });
});

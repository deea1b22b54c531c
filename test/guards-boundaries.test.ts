/**
 * README "Guarantees": Guards hold on every run. The count guards at their exact boundaries (limit
 * passes, limit + 1 stops), the worker config's ceilings, the messages an operator reads to fix a
 * request, and populations that cannot vouch for a fraction. Written for the planted bugs
 * guard-max-deletions-off-by-one, guard-per-account-off-by-one and guard-ceiling-ignored
 * (test/mutants/list.ts), which test/guards.test.ts let through, and for the Stryker survivors in
 * policy/guards.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BackupRecord, ItemRef } from '../contract/model';
import { checkCounts, checkGuards, groupOfFromRecords, guardsSchema, populationFromRecords } from '../policy';

const items = (account: string, n: number): ItemRef[] =>
  Array.from({ length: n }, (_, i) => ({ account, id: `${account}-${i}` }));
const noGroup = (): string | undefined => undefined;
const counts = (entries: Array<[string, number]>) => new Map(entries);

describe('count guards at their boundaries', () => {
  test('maxDeletions: the limit passes, one more stops with an excess of 1', () => {
    assert.deepEqual(
      checkCounts(
        counts([
          ['a', 3],
          ['b', 4],
        ]),
        { maxDeletions: 7 },
        new Map(),
      ),
      [],
    );
    assert.deepEqual(
      checkCounts(
        counts([
          ['a', 4],
          ['b', 4],
        ]),
        { maxDeletions: 7 },
        new Map(),
      ),
      [
        {
          guard: 'maxDeletions',
          scope: 'all accounts',
          limit: 7,
          actual: 8,
          excess: 1,
          message: 'maxDeletions: the plan would delete 8 backups over all accounts (limit 7); 1 over',
        },
      ],
    );
    // A plan of 0 under maxDeletions 0 passes; 1 does not.
    assert.deepEqual(checkCounts(counts([]), { maxDeletions: 0 }, new Map()), []);
    assert.equal(checkCounts(counts([['a', 1]]), { maxDeletions: 0 }, new Map()).length, 1);
  });

  test('maxDeletionsPerAccount: the limit passes, one more stops, named after the request field', () => {
    assert.deepEqual(checkCounts(counts([['a', 3]]), { maxDeletionsPerAccount: 3 }, new Map()), []);
    assert.deepEqual(checkCounts(counts([['a', 4]]), { maxDeletionsPerAccount: 3 }, new Map()), [
      {
        guard: 'maxDeletionsPerAccount',
        scope: 'a',
        limit: 3,
        actual: 4,
        excess: 1,
        message:
          'maxDeletionsPerAccount: the plan would delete 4 backups on account "a" (limit 3, from guards.maxDeletionsPerAccount); 1 over',
      },
    ]);
    // Without the guard nothing is judged per account.
    assert.deepEqual(checkCounts(counts([['a', 1_000]]), {}, new Map()), []);
  });

  test("the worker config's maxDeletionsPerRun: the ceiling passes, one more stops, naming the config field", () => {
    assert.deepEqual(checkCounts(counts([['a', 3]]), {}, new Map([['a', 3]])), []);
    assert.deepEqual(checkCounts(counts([['a', 4]]), {}, new Map([['a', 3]])), [
      {
        guard: 'maxDeletionsPerRun',
        scope: 'a',
        limit: 3,
        actual: 4,
        excess: 1,
        message:
          'maxDeletionsPerRun: the plan would delete 4 backups on account "a" (limit 3, from the worker config\'s accounts.a.limits.maxDeletionsPerRun); 1 over',
      },
    ]);
    // A ceiling is the account's own: another account's ceiling does not apply.
    assert.deepEqual(checkCounts(counts([['a', 4]]), {}, new Map([['b', 1]])), []);
    // No request can raise it: a generous request guard does not lift the ceiling.
    assert.deepEqual(
      checkCounts(
        counts([['a', 4]]),
        { maxDeletions: 100, maxDeletionsPerAccount: 100 },
        new Map([['a', 3]]),
      ).map((v) => v.guard),
      ['maxDeletionsPerRun'],
    );
  });

  test('violations of several accounts come out sorted by account, whatever the input order', () => {
    const v = checkCounts(
      counts([
        ['b', 4],
        ['c', 2],
        ['a', 4],
      ]),
      { maxDeletionsPerAccount: 3 },
      new Map([
        ['c', 1],
        ['b', 3],
      ]),
    );
    assert.deepEqual(
      v.map((x) => `${x.guard} ${x.scope} ${x.excess}`),
      [
        'maxDeletionsPerAccount a 1',
        'maxDeletionsPerAccount b 1',
        'maxDeletionsPerRun b 1',
        'maxDeletionsPerRun c 1',
      ],
    );
  });

  test('checkGuards judges maxDeletionsPerAccount at its boundary too (deduplicated items)', () => {
    const plan = { deletions: [...items('a', 3), ...items('a', 3)] };
    const pop = { perAccount: { a: 10 }, perGroup: {} };
    assert.deepEqual(checkGuards(plan, pop, noGroup, { maxDeletionsPerAccount: 3 }), { ok: true });
    assert.deepEqual(checkGuards(plan, pop, noGroup, { maxDeletions: 3 }), { ok: true });
    const over = checkGuards({ deletions: items('a', 4) }, pop, noGroup, { maxDeletionsPerAccount: 3 });
    assert.ok(!over.ok);
    assert.equal(over.violations[0]?.excess, 1);
  });
});

describe('fraction guards that the population cannot vouch for', () => {
  test('a missing, inherited, infinite or too small count fails the guard, saying why', () => {
    const deletions = [...items('constructor', 2), ...items('inf', 3), ...items('few', 4)];
    const pop = { perAccount: { inf: Infinity, few: 2 }, perGroup: {} };
    const r = checkGuards({ deletions }, pop, noGroup, { maxFractionPerAccount: 0.5 });
    assert.ok(!r.ok);
    assert.deepEqual(r.violations, [
      {
        guard: 'maxFractionPerAccount',
        scope: 'constructor',
        limit: 0.5,
        actual: 1,
        excess: 1,
        message:
          'maxFractionPerAccount: account "constructor" would lose 2 backups but the population has no backup count for it, so the limit of 50% cannot be checked; 1 over',
      },
      {
        guard: 'maxFractionPerAccount',
        scope: 'few',
        limit: 0.5,
        actual: 1,
        excess: 2,
        message:
          'maxFractionPerAccount: account "few" would lose 4 backups but the population has only 2 backups for it, so the limit of 50% cannot be checked; 2 over',
      },
      {
        guard: 'maxFractionPerAccount',
        scope: 'inf',
        limit: 0.5,
        actual: 1,
        excess: 2,
        message:
          'maxFractionPerAccount: account "inf" would lose 3 backups but the population has no backup count for it, so the limit of 50% cannot be checked; 2 over',
      },
    ]);
  });

  test('a count that is not a number is no count', () => {
    const pop = { perAccount: { a: '10' as unknown as number }, perGroup: {} };
    const r = checkGuards({ deletions: items('a', 1) }, pop, noGroup, { maxFractionPerAccount: 0.5 });
    assert.ok(!r.ok);
    assert.match(r.violations[0]!.message, /has no backup count for it/);
  });

  test('an item of no known group fails maxFractionPerGroup, naming the item', () => {
    const r = checkGuards({ deletions: items('a', 1) }, { perAccount: {}, perGroup: {} }, noGroup, {
      maxFractionPerGroup: 0.25,
    });
    assert.ok(!r.ok);
    assert.deepEqual(r.violations, [
      {
        guard: 'maxFractionPerGroup',
        scope: 'a/a-0',
        limit: 0.25,
        actual: 1,
        excess: 1,
        message:
          'maxFractionPerGroup: item "a/a-0" belongs to no known group, so the limit of 25% cannot be checked; 1 over',
      },
    ]);
  });
});

describe('percentages in guard messages', () => {
  const message = (deleted: number, total: number, limit: number) => {
    const r = checkGuards(
      { deletions: items('acc', deleted) },
      { perAccount: { acc: total }, perGroup: {} },
      noGroup,
      {
        maxFractionPerAccount: limit,
      },
    );
    assert.ok(!r.ok, `${deleted}/${total} over ${limit}`);
    return r.violations[0]!.message;
  };

  test('just enough decimals that the share and the limit never print the same, no trailing zeros', () => {
    assert.equal(
      message(3, 4, 0.5),
      'maxFractionPerAccount: account "acc" would lose 75% of its 4 backups (3 deletions, limit 50%); 1 over',
    );
    assert.match(message(34, 100, 0.335), /lose 34% of its 100 backups \(34 deletions, limit 33\.5%\)/);
    assert.match(message(2, 3, 0.6666), /lose 66\.67% of its 3 backups \(2 deletions, limit 66\.66%\)/);
    assert.match(
      message(661, 1_000, 0.6609),
      /lose 66\.1% of its 1000 backups \(661 deletions, limit 66\.09%\)/,
    );
  });

  test('at most 4 decimals, even when the share and the limit then print the same', () => {
    assert.match(
      message(1, 3, 0.33333333),
      /lose 33\.3333% of its 3 backups \(1 deletions, limit 33\.3333%\); 1 over/,
    );
  });
});

describe('guards schema: the message names the field and what it takes', () => {
  const whole = 'expected a whole number between 0 and 1000000';
  const cases: Array<[unknown, string, string]> = [
    [{ maxDeletions: 'x' }, 'maxDeletions', whole],
    [{ maxDeletions: 1.5 }, 'maxDeletions', whole],
    [{ maxDeletions: -1 }, 'maxDeletions', whole],
    [{ maxDeletions: 1_000_001 }, 'maxDeletions', whole],
    [{ maxDeletionsPerAccount: 'x' }, 'maxDeletionsPerAccount', whole],
    [{ maxDeletionsPerAccount: 1.5 }, 'maxDeletionsPerAccount', whole],
    [{ maxDeletionsPerAccount: -1 }, 'maxDeletionsPerAccount', whole],
    [{ maxDeletionsPerAccount: 1_000_001 }, 'maxDeletionsPerAccount', whole],
    ...(['x', -0.1, 1.5] as const).flatMap((v): Array<[unknown, string, string]> => [
      [
        { maxFractionPerAccount: v },
        'maxFractionPerAccount',
        'expected a fraction between 0 and 1 (largest share of an account deleted by one plan; 0.5 means 50%)',
      ],
      [
        { maxFractionPerGroup: v },
        'maxFractionPerGroup',
        'expected a fraction between 0 and 1 (largest share of a group deleted by one plan; 0.5 means 50%)',
      ],
    ]),
    [
      'x',
      '',
      'expected an object with fields maxDeletions, maxDeletionsPerAccount, maxFractionPerAccount, maxFractionPerGroup, onViolation',
    ],
    [
      { a: 1, b: 2 },
      '',
      'unknown field(s) "a", "b"; possible fields: maxDeletions, maxDeletionsPerAccount, maxFractionPerAccount, maxFractionPerGroup, onViolation',
    ],
  ];
  for (const [input, path, msg] of cases)
    test(`${JSON.stringify(input)} → ${path || '(guards)'}: ${msg.slice(0, 40)}...`, () => {
      const r = guardsSchema.safeParse(input);
      assert.ok(!r.success);
      assert.deepEqual(
        r.error.issues.map((i) => [i.path.join('.'), i.message]),
        [[path, msg]],
      );
    });

  test('the largest and smallest values are accepted', () => {
    assert.ok(
      guardsSchema.safeParse({
        maxDeletions: 1_000_000,
        maxDeletionsPerAccount: 0,
        maxFractionPerAccount: 1,
        maxFractionPerGroup: 0,
      }).success,
    );
    assert.ok(guardsSchema.safeParse({ maxDeletions: 0, maxDeletionsPerAccount: 1_000_000 }).success);
  });

  test('checkGuards refuses invalid guards naming the field, or "guards" for the whole', () => {
    const run = (g: unknown) => () =>
      checkGuards({ deletions: [] }, { perAccount: {}, perGroup: {} }, noGroup, g as never);
    assert.throws(run({ maxDeletions: -1 }), {
      name: 'RangeError',
      message: `invalid guards: maxDeletions: ${whole}`,
    });
    assert.throws(run({ maxDeletions: -1, maxDeletionsPerAccount: 1.5 }), {
      message: `invalid guards: maxDeletions: ${whole}; maxDeletionsPerAccount: ${whole}`,
    });
    assert.throws(run('x'), {
      message:
        'invalid guards: guards: expected an object with fields maxDeletions, maxDeletionsPerAccount, maxFractionPerAccount, maxFractionPerGroup, onViolation',
    });
  });
});

describe('population and groups from a listing', () => {
  const rec = (id: string, group: string, account = 'acc'): BackupRecord => ({
    account,
    provider: 'vbs',
    id,
    backupId: id,
    createdAt: '2020-01-01T00:00:00Z',
    status: 'available',
    successful: true,
    group,
    deletable: { ok: true },
  });

  test('an item listed under several groups belongs to the first in code-unit order, whatever the order listed', () => {
    for (const order of [
      ['m', 'B', 'z'],
      ['z', 'm', 'B'],
      ['B', 'z', 'm'],
    ]) {
      const groupOf = groupOfFromRecords(order.map((g) => rec('x', g)));
      assert.equal(groupOf({ account: 'acc', id: 'x' }), 'B', order.join());
    }
  });

  test('counts are keyed in code-unit order (a stable history payload)', () => {
    const pop = populationFromRecords([rec('1', 'b', 'z'), rec('2', 'a', 'y'), rec('3', 'B', 'z')]);
    assert.deepEqual(Object.keys(pop.perAccount), ['y', 'z']);
    assert.deepEqual(Object.keys(pop.perGroup), ['y/a', 'z/B', 'z/b']);
  });
});

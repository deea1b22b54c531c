/**
 * How the policy reads a listed record before planning (policy/order.ts, policy/deletable.ts): which
 * creation times it trusts (README, "Guarantees": Listings that can't be trusted are not planned on —
 * a time it cannot read keeps the backup), what it says about a time it could not read, when the
 * provider's "deletable" mark counts, and the canonical form that breaks ties deterministically.
 * Written for the Stryker survivors in those modules (docs/testing.md, "Planted bugs and mutation
 * score").
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { notDeletableReason } from '../policy/deletable';
import { canonical, timeOf, unknownTimeRule } from '../policy/order';
import type { BackupRecord } from '../contract/model';

describe('creation times: only an ISO-8601 time with its zone is read', () => {
  const read: Array<[string, string]> = [
    ['2024-01-02T03:04Z', '2024-01-02T03:04:00.000Z'],
    ['2024-01-02T03:04:05Z', '2024-01-02T03:04:05.000Z'],
    ['2024-01-02T03:04:05.1Z', '2024-01-02T03:04:05.100Z'],
    ['2024-01-02T03:04:05.123Z', '2024-01-02T03:04:05.123Z'],
    ['2024-01-02T03:04:05+02:00', '2024-01-02T01:04:05.000Z'],
    ['2024-01-02T03:04:05.5-05:30', '2024-01-02T08:34:05.500Z'],
    ['2024-01-02T03:04+01:00', '2024-01-02T02:04:00.000Z'],
  ];
  for (const [raw, iso] of read)
    test(`${raw} is ${iso}`, () => assert.equal(new Date(timeOf({ createdAt: raw })!).toISOString(), iso));

  const unread = [
    '',
    '1',
    '2024-01-02',
    '2024-01-02T03:04:05', // no zone: local time on whatever machine
    '2024-01-02 03:04:05Z',
    'x2024-01-02T03:04:05Z',
    '2024-01-02T03:04:05Zx',
    '2024-01-02T03:04:05.Z',
    '2024-01-02T03:04:05.12aZ',
    '2024-01-02T03:04:05*02:00',
    '2024-01-02T03:04:05+0200',
    '2024-01-02T03:04:05+02',
    '2024-01-02T03:04:5Z',
    '2024-13-45T03:04:05Z', // the right shape, no such day
  ];
  for (const raw of unread)
    test(`${JSON.stringify(raw)} is unknown`, () => assert.equal(timeOf({ createdAt: raw }), undefined));

  test('a time that is not a string is unknown', () => {
    for (const raw of [undefined, null, 1_704_164_645_000, { at: 'x' }])
      assert.equal(timeOf({ createdAt: raw as unknown as string }), undefined, JSON.stringify(raw));
  });

  test('the rule that keeps such a backup shows what the provider gave, or that it gave nothing', () => {
    for (const raw of ['', undefined, null])
      assert.equal(
        unknownTimeRule({ createdAt: raw as unknown as string }),
        'creation time unknown (not given by the provider)',
      );
    assert.equal(unknownTimeRule({ createdAt: 'yesterday' }), 'creation time unknown ("yesterday")');
    assert.equal(unknownTimeRule({ createdAt: 0 as unknown as string }), 'creation time unknown (0)');
  });
});

describe("the provider's deletable mark", () => {
  const rec = (deletable: unknown) => ({ deletable }) as unknown as BackupRecord;
  const fallback = 'the provider did not mark it deletable';

  test('only an explicit { ok: true } is deletable', () => {
    assert.equal(notDeletableReason(rec({ ok: true })), undefined);
    for (const d of [{ ok: 'true' }, { ok: 1 }, {}, null, undefined, 'ok', true, [true]])
      assert.equal(notDeletableReason(rec(d)), fallback, JSON.stringify(d));
  });

  test("the provider's reason is shown when it gave one", () => {
    assert.equal(
      notDeletableReason(rec({ ok: false, reason: 'registered as an image' })),
      'registered as an image',
    );
    for (const reason of ['', 5, null, undefined])
      assert.equal(notDeletableReason(rec({ ok: false, reason })), fallback, JSON.stringify(reason));
  });
});

describe('canonical form (the last tie-breaker between two listings of one backup)', () => {
  test('keys sorted at every depth, undefined fields left out, arrays in order', () => {
    assert.equal(
      canonical({ b: 1, a: [2, { d: undefined, c: 'x' }, null], e: null, f: { z: true, y: [] } }),
      '{"a":[2,{"c":"x"},null],"b":1,"e":null,"f":{"y":[],"z":true}}',
    );
    assert.equal(canonical({ b: 1, a: 2 }), canonical({ a: 2, b: 1 }));
    assert.notEqual(canonical([1, 2]), canonical([2, 1]));
  });

  test('scalars as JSON; undefined as the word', () => {
    assert.equal(canonical('s'), '"s"');
    assert.equal(canonical(3), '3');
    assert.equal(canonical(null), 'null');
    assert.equal(canonical(undefined), 'undefined');
    assert.equal(canonical([]), '[]');
    assert.equal(canonical({}), '{}');
  });
});

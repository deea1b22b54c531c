/**
 * The fairness key of an account's deletion activities (workflows/lane/fairness.ts): the account's
 * name, within Temporal's 64-byte limit, one key per account.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fairnessKey, MAX_FAIRNESS_KEY_BYTES } from '../workflows/lane/fairness';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('fairness key', () => {
  test('a name within 64 bytes is the key as it is', () => {
    assert.equal(fairnessKey('prod-eu-vbs'), 'prod-eu-vbs');
    const max = 'a'.repeat(MAX_FAIRNESS_KEY_BYTES);
    assert.equal(fairnessKey(max), max);
  });

  test('longer names are cut to 64 bytes and stay apart when they share their start', () => {
    const long = 'x'.repeat(80);
    const a = fairnessKey(`${long}-a`);
    const b = fairnessKey(`${long}-b`);
    assert.ok(bytes(a) <= MAX_FAIRNESS_KEY_BYTES, a);
    assert.ok(bytes(b) <= MAX_FAIRNESS_KEY_BYTES, b);
    assert.notEqual(a, b);
    assert.ok(a.startsWith('x'.repeat(40)), "readable: the name's start is kept");
    assert.equal(fairnessKey(`${long}-a`), a, 'deterministic');
  });

  test('multi-byte names are cut on a character boundary', () => {
    const key = fairnessKey('ü'.repeat(50));
    assert.ok(bytes(key) <= MAX_FAIRNESS_KEY_BYTES);
    assert.ok(!key.includes('\uFFFD'));
  });
});

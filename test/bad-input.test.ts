/**
 * The bad-input corpus for requests and worker configs: each malformed input gets a clear error that
 * names the field. (Malformed provider answers are covered per provider in the adapter contract tests.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { accountLimits, parseWorkerConfig } from '../worker/config';
import { parseCleanupRequest } from '../contract/request';

const ok = { account: 'vbs-a', id: 'b-1' };

/** [name, request, pattern every problem list must match] */
const BAD_REQUESTS: Array<[string, unknown, RegExp]> = [
  ['null', null, /expected one JSON object/],
  ['array', [ok], /expected one JSON object/],
  ['string', 'items', /expected one JSON object/],
  ['number', 42, /expected one JSON object/],
  ['empty object', {}, /items: give at least one item/],
  ['empty items', { items: [] }, /items: give at least one item/],
  ['items not an array', { items: ok }, /^items: /],
  ['item not an object', { items: ['b-1'] }, /items\[0\]/],
  ['missing account', { items: [{ id: 'b-1' }] }, /items\[0\]\.account/],
  ['missing id', { items: [{ account: 'vbs-a' }] }, /items\[0\]\.id/],
  ['numeric id', { items: [{ account: 'vbs-a', id: 7 }] }, /items\[0\]\.id/],
  ['empty id', { items: [{ account: 'vbs-a', id: '' }] }, /items\[0\]\.id: must not be empty/],
  ['id with slash', { items: [{ account: 'vbs-a', id: '../etc' }] }, /items\[0\]\.id: must not contain/],
  ['id with space', { items: [{ account: 'vbs-a', id: 'a b' }] }, /items\[0\]\.id/],
  ['id too long', { items: [{ account: 'vbs-a', id: 'x'.repeat(201) }] }, /items\[0\]\.id: at most 200/],
  ['account with slash', { items: [{ account: 'a/b', id: 'x' }] }, /items\[0\]\.account: account names use/],
  ['account empty', { items: [{ account: '', id: 'x' }] }, /items\[0\]\.account/],
  ['account numeric', { items: [{ account: 5, id: 'x' }] }, /items\[0\]\.account/],
  ['unknown item field', { items: [{ ...ok, backupId: 'x' }] }, /items\[0\]: unknown field\(s\) "backupId"/],
  ['checkpointId numeric', { items: [{ ...ok, checkpointId: 1 }] }, /items\[0\]\.checkpointId/],
  ['dryRun string', { items: [ok], dryRun: 'false' }, /dryRun: expected true or false/],
  ['dryRun number', { items: [ok], dryRun: 0 }, /dryRun/],
  ['typo dryrun', { items: [ok], dryrun: false }, /unknown field\(s\) "dryrun"/],
  ['unknown top-level field', { items: [ok], endpoint: 'https://evil' }, /unknown field\(s\) "endpoint"/],
  ['label too long', { items: [ok], label: 'x'.repeat(201) }, /label/],
  ['label not a string', { items: [ok], label: 3 }, /label/],
  ['itemsToFollow string', { itemsToFollow: 'yes' }, /itemsToFollow/],
  [
    'huge input',
    { items: Array.from({ length: 1001 }, (_, i) => ({ account: 'a', id: `b${i}` })) },
    /items: at most 1000 items/,
  ],
  ['second item bad', { items: [ok, { account: 'vbs-a', id: null }] }, /items\[1\]\.id/],
];

describe('malformed requests are refused, naming the field', () => {
  for (const [name, raw, pattern] of BAD_REQUESTS) {
    test(name, () => {
      const r = parseCleanupRequest(raw);
      assert.equal(r.ok, false, 'must be refused');
      if (!r.ok) assert.match(r.problems.join('\n'), pattern);
    });
  }
  test('a good request passes and defaults to a dry run', () => {
    const r = parseCleanupRequest({ items: [ok] });
    assert.ok(r.ok);
    if (r.ok) assert.equal(r.value.dryRun, true);
  });
});

const goodAccount = {
  provider: 'vbs',
  endpoint: 'https://vbs.example.test',
  iamEndpoint: 'https://iam.example.test',
  projectId: 'p1',
  domain: 'd',
  credentials: { username: { env: 'U' }, password: { env: 'P' } },
};
const cfg = (accounts: unknown, extra: Record<string, unknown> = {}) => ({ accounts, ...extra });

const BAD_CONFIGS: Array<[string, unknown, RegExp]> = [
  ['not an object', 'accounts', /config/],
  ['no accounts', {}, /accounts/],
  ['empty accounts', cfg({}), /accounts: define at least one account/],
  [
    'unknown provider',
    cfg({ a: { ...goodAccount, provider: 'tape' } }),
    /accounts\.a\.provider: expected "provider" to be one of jsa, csbs, vbs, veeam, taurusdb/,
  ],
  ['missing endpoint', cfg({ a: { ...goodAccount, endpoint: undefined } }), /accounts\.a\.endpoint/],
  [
    'endpoint not a URL',
    cfg({ a: { ...goodAccount, endpoint: 'vbs.example' } }),
    /accounts\.a\.endpoint: expected an absolute URL/,
  ],
  [
    'inline password',
    cfg({ a: { ...goodAccount, credentials: { username: { env: 'U' }, password: 'hunter2' } } }),
    /accounts\.a\.credentials\.password: expected a reference like/,
  ],
  [
    'unknown credential source',
    cfg({ a: { ...goodAccount, credentials: { username: { env: 'U' }, password: { vault: 'x' } } } }),
    /accounts\.a\.credentials\.password/,
  ],
  [
    'maxConcurrent zero',
    cfg({ a: { ...goodAccount, limits: { maxConcurrent: 0 } } }),
    /accounts\.a\.limits\.maxConcurrent/,
  ],
  [
    'maxConcurrent fractional',
    cfg({ a: { ...goodAccount, limits: { maxConcurrent: 2.5 } } }),
    /accounts\.a\.limits\.maxConcurrent/,
  ],
  [
    'bad duration',
    cfg({ a: { ...goodAccount, limits: { pollInterval: 'soon' } } }),
    /accounts\.a\.limits\.pollInterval: expected a duration like/,
  ],
  [
    'negative rps',
    cfg({ a: { ...goodAccount, limits: { requestsPerSecond: -1 } } }),
    /accounts\.a\.limits\.requestsPerSecond/,
  ],
  [
    'unknown limit',
    cfg({ a: { ...goodAccount, limits: { maxConcurency: 5 } } }),
    /accounts\.a\.limits: unknown field\(s\) "maxConcurency"/,
  ],
  [
    'circuitBreaker failureRate zero',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: { failureRate: 0 } } } }),
    /accounts\.a\.limits\.circuitBreaker\.failureRate: expected a fraction above 0 and at most 1/,
  ],
  [
    'circuitBreaker failureRate above 1',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: { failureRate: 50 } } } }),
    /accounts\.a\.limits\.circuitBreaker\.failureRate: expected a fraction above 0 and at most 1/,
  ],
  [
    'circuitBreaker window fractional',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: { window: 2.5 } } } }),
    /accounts\.a\.limits\.circuitBreaker\.window: expected a whole number of deletions/,
  ],
  [
    'circuitBreaker window zero',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: { window: 0 } } } }),
    /accounts\.a\.limits\.circuitBreaker\.window: expected a whole number of deletions/,
  ],
  [
    'circuitBreaker bad coolDown',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: { coolDown: '5 minutes' } } } }),
    /accounts\.a\.limits\.circuitBreaker\.coolDown: expected a duration like/,
  ],
  [
    'circuitBreaker minFailures above window',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: { window: 4, minFailures: 5 } } } }),
    /accounts\.a\.limits\.circuitBreaker\.minFailures: must not exceed window \(4\)/,
  ],
  [
    'circuitBreaker unknown field',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: { threshold: 0.5 } } } }),
    /accounts\.a\.limits\.circuitBreaker: unknown field\(s\) "threshold"/,
  ],
  [
    'circuitBreaker not an object',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: true } } }),
    /accounts\.a\.limits\.circuitBreaker/,
  ],
  ['bad account name', cfg({ 'bad name': goodAccount }), /accounts/],
  ['unknown top-level key', cfg({ a: goodAccount }, { acounts: {} }), /unknown field\(s\) "acounts"/],
  [
    'tls flag not boolean',
    cfg({ a: { ...goodAccount, tls: { insecureSkipVerify: 'yes' } } }),
    /accounts\.a\.tls\.insecureSkipVerify/,
  ],
  [
    'jsa without credentials',
    cfg({ j: { provider: 'jsa', endpoint: 'https://jsa.example.test' } }),
    /accounts\.j\.credentials/,
  ],
  [
    'huawei without projectId',
    cfg({ a: { ...goodAccount, projectId: undefined } }),
    /accounts\.a\.projectId/,
  ],
  // Provider ceilings known to the code (activities/providers/csbs.ts CSBS_MAX_CONCURRENT_DELETIONS).
  [
    'CSBS maxConcurrent above 5',
    cfg({ c: { ...goodAccount, provider: 'csbs', limits: { maxConcurrent: 6 } } }),
    /accounts\.c\.limits\.maxConcurrent: at most 5 for CSBS: it runs at most 5 deletion tasks per user/,
  ],
  // Values that break every deletion.
  [
    'zero duration string',
    cfg({ a: { ...goodAccount, limits: { pollInterval: '0s' } } }),
    /accounts\.a\.limits\.pollInterval: expected a duration above zero/,
  ],
  [
    'duration that rounds to zero',
    cfg({ a: { ...goodAccount, limits: { retryInitialInterval: '0.0001s' } } }),
    /accounts\.a\.limits\.retryInitialInterval: expected a duration above zero/,
  ],
  [
    'zero duration number',
    cfg({ a: { ...goodAccount, limits: { deletionDeadline: 0 } } }),
    /accounts\.a\.limits\.deletionDeadline: expected a duration above zero/,
  ],
  [
    'requestTimeout zero',
    cfg({ a: { ...goodAccount, limits: { requestTimeout: '0ms' } } }),
    /accounts\.a\.limits\.requestTimeout: expected a duration above zero/,
  ],
  [
    'circuitBreaker coolDown zero',
    cfg({ a: { ...goodAccount, limits: { circuitBreaker: { coolDown: '0m' } } } }),
    /accounts\.a\.limits\.circuitBreaker\.coolDown: expected a duration above zero/,
  ],
  [
    'retryInitialInterval above retryMaxInterval',
    cfg({ a: { ...goodAccount, limits: { retryInitialInterval: '2m', retryMaxInterval: '30s' } } }),
    /accounts\.a\.limits\.retryInitialInterval: must not exceed retryMaxInterval \(30s\)/,
  ],
  [
    'deletionDeadline shorter than one poll',
    cfg({
      a: { ...goodAccount, limits: { deletionDeadline: '3s', pollInterval: '5s', requestTimeout: '1s' } },
    }),
    /accounts\.a\.limits\.deletionDeadline: must be at least one pollInterval \(5s\)/,
  ],
  [
    'deletionDeadline shorter than one request',
    cfg({ a: { ...goodAccount, limits: { deletionDeadline: '20s', requestTimeout: '30s' } } }),
    /accounts\.a\.limits\.deletionDeadline: must be at least one requestTimeout \(30s\)/,
  ],
  [
    'maxDeletionsPerRun zero',
    cfg({ a: { ...goodAccount, limits: { maxDeletionsPerRun: 0 } } }),
    /accounts\.a\.limits\.maxDeletionsPerRun: expected a whole number of deletions, at least 1/,
  ],
  [
    'maxDeletionsPerRun fractional',
    cfg({ a: { ...goodAccount, limits: { maxDeletionsPerRun: 2.5 } } }),
    /accounts\.a\.limits\.maxDeletionsPerRun: expected a whole number of deletions, at least 1/,
  ],
];

describe('broken worker configs are refused, naming the field', () => {
  for (const [name, raw, pattern] of BAD_CONFIGS) {
    test(name, () => {
      assert.throws(
        () => parseWorkerConfig(raw, 'config.yaml'),
        (err: Error) => {
          assert.equal(err.name, 'ConfigError');
          assert.match(err.message, pattern);
          assert.match(err.message, /^config\.yaml: /);
          return true;
        },
      );
    });
  }
  test('the circuit breaker is off unless configured; {} turns it on with the documented defaults', () => {
    const off = parseWorkerConfig(cfg({ a: goodAccount }), 'config.yaml').config.accounts.a!;
    assert.equal('circuitBreaker' in accountLimits('a', off), false, 'no breaker key at all when absent');
    const on = parseWorkerConfig(
      cfg({ a: { ...goodAccount, limits: { circuitBreaker: {} } } }),
      'config.yaml',
    ).config.accounts.a!;
    assert.deepEqual(accountLimits('a', on).circuitBreaker, {
      failureRate: 0.5,
      window: 20,
      coolDownMs: 300_000,
    });
    const custom = parseWorkerConfig(
      cfg({
        a: {
          ...goodAccount,
          limits: { circuitBreaker: { failureRate: 1, window: 4, coolDown: '1.5s', minFailures: 4 } },
        },
      }),
      'config.yaml',
    ).config.accounts.a!;
    assert.deepEqual(accountLimits('a', custom).circuitBreaker, {
      failureRate: 1,
      window: 4,
      coolDownMs: 1_500,
      minFailures: 4,
    });
  });
  test('a CSBS account at the provider ceiling, and other providers above it, are accepted', () => {
    const loaded = parseWorkerConfig(
      cfg({
        c: { ...goodAccount, provider: 'csbs', limits: { maxConcurrent: 5 } },
        v: { ...goodAccount, limits: { maxConcurrent: 50 } },
      }),
      'config.yaml',
    );
    assert.equal(loaded.config.accounts.c!.limits.maxConcurrent, 5);
    assert.equal(loaded.config.accounts.v!.limits.maxConcurrent, 50);
  });
  test('maxDeletionsPerRun reaches the workflows only when configured', () => {
    const off = parseWorkerConfig(cfg({ a: goodAccount }), 'config.yaml').config.accounts.a!;
    assert.equal('maxDeletionsPerRun' in accountLimits('a', off), false, 'no key at all when absent');
    const on = parseWorkerConfig(
      cfg({ a: { ...goodAccount, limits: { maxDeletionsPerRun: 25 } } }),
      'config.yaml',
    ).config.accounts.a!;
    assert.equal(accountLimits('a', on).maxDeletionsPerRun, 25);
  });
  test('a secret that is referenced but not set names the variable, not a value', () => {
    const loaded = parseWorkerConfig(cfg({ a: goodAccount }), 'config.yaml');
    delete process.env.RC_UNSET_VAR_FOR_TEST;
    assert.throws(
      () => loaded.secret({ env: 'RC_UNSET_VAR_FOR_TEST' }),
      /environment variable RC_UNSET_VAR_FOR_TEST is not set/,
    );
  });
});

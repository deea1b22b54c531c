/**
 * JSA (QRadar API 16.0): the adapter's contract against the simulator over real HTTP, the classifier,
 * auth headers, malformed answers, and one run through the workflows on the real dev server.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { request } from 'undici';
import { RetentionClient } from '../client/retention-client';
import type { HttpResponse } from '../activities/http';
import { isProviderError, type ProviderErrorKind } from '../activities/provider-error';
import type { ProviderAdapter } from '../activities/providers/adapter';
import { JsaAdapter } from '../activities/providers/jsa';
import { AdapterRegistry } from '../activities/providers/registry';
import type { JsaBackup, JsaSim } from '../simulator/jsa';
import { Simulator } from '../simulator/server';
import type { ItemOutcome, ItemRef } from '../contract/model';
import { parseWorkerConfig } from '../worker/config';
import { assertNoRepeats } from './helpers/deletes';
import { startStack, TEST_CREDENTIAL_ENV, type Stack } from './helpers/stack';
import { fakeResponse as res, observeToEnd } from './helpers/adapters';

const CONSOLE = 'console-a';
const BASIC_CONSOLE = 'console-b';
const T0 = Date.UTC(2026, 0, 1);

function backup(id: number, extra: Partial<JsaBackup> = {}): JsaBackup {
  return { id, status: 'SUCCESS', type: 'CONFIG', host_id: 53, time_initiated: T0 + id * 60_000, ...extra };
}

async function kindOf(
  p: Promise<unknown>,
): Promise<{ kind: ProviderErrorKind; message: string; code?: string; retryAfterMs?: number }> {
  try {
    await p;
  } catch (err) {
    if (!isProviderError(err)) throw err;
    return { kind: err.kind, message: err.message, code: err.info.code, retryAfterMs: err.info.retryAfterMs };
  }
  return assert.fail('expected a ProviderError');
}

function jsaBody(status: number, code: number, message = 'x') {
  return { http_response: { code: status, message: 'm' }, code, message, description: '', details: {} };
}

describe('JSA classifier', () => {
  const adapter = new JsaAdapter('jsa', { endpoint: 'https://console.invalid' }, undefined as never, () => ({
    token: 't',
  }));
  const cases: Array<[string, HttpResponse, ProviderErrorKind]> = [
    ['404 code 1001: no such backup', res(404, jsaBody(404, 1001)), 'not-found'],
    ['404 with another code: wrong endpoint, not "absent"', res(404, jsaBody(404, 1002)), 'misconfigured'],
    ['404 without a JSA body', res(404, 'Not Found'), 'misconfigured'],
    ['404 with an HTML body', res(404, '<html><body>Not Found</body></html>'), 'misconfigured'],
    ['404 with an empty body', res(404, undefined), 'misconfigured'],
    ['422 code 1017: already deleting/cancelling', res(422, jsaBody(422, 1017)), 'in-progress'],
    ['422 with another code', res(422, jsaBody(422, 1005)), 'rejected'],
    ['500 code 1000', res(500, jsaBody(500, 1000)), 'transient'],
    ['502', res(502, 'Bad Gateway'), 'transient'],
    ['503', res(503, jsaBody(503, 1000)), 'transient'],
    ['504', res(504, undefined), 'transient'],
    ['550 API initialisation failure', res(550, jsaBody(550, 1000)), 'transient'],
    ['401', res(401, jsaBody(401, 12)), 'auth'],
    ['403', res(403, jsaBody(403, 12)), 'auth'],
    ['409', res(409, jsaBody(409, 1004)), 'rejected'],
  ];
  for (const [name, r, kind] of cases) {
    test(name, () => assert.equal(adapter.classify(r, 'op').kind, kind));
  }

  test('a 404 without code 1001 names the account endpoint to check', () => {
    const html = {
      status: 404,
      headers: { 'content-type': 'text/html' },
      body: '<html>x</html>',
      text: '<html>x</html>',
    };
    const err = adapter.classify(html, 'JSA get backup 7');
    assert.equal(
      err.message,
      'JSA get backup 7: HTTP 404 without code 1001 (HTML body): check accounts.jsa.endpoint (https://console.invalid/)',
    );
    assert.equal(err.context.field, 'accounts.jsa.endpoint');
  });

  test('the JSA code and message travel with the error', () => {
    const err = adapter.classify(res(500, jsaBody(500, 1000, 'Unexpected internal error')), 'op');
    assert.equal(err.info.code, '1000');
    assert.match(err.message, /1000: Unexpected internal error/);
  });

  test('Retry-After is honoured on a 503', () => {
    assert.equal(
      adapter.classify(res(503, jsaBody(503, 1000), { 'retry-after': '7' }), 'op').info.retryAfterMs,
      7_000,
    );
  });
});

describe('JSA adapter against the simulator', () => {
  const sim = new Simulator({ timings: { deleteMs: { jsa: 2_000 } } });
  let registry: AdapterRegistry;
  let adapter: ProviderAdapter;
  let basic: ProviderAdapter;
  let jsa: JsaSim;
  const item = (id: number | string): ItemRef => ({ account: 'jsa', id: String(id) });

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV);
    await sim.start();
    jsa = sim.provider('jsa') as JsaSim;
    const limits = { requestTimeout: '5s' };
    const loaded = parseWorkerConfig({
      accounts: {
        jsa: {
          provider: 'jsa',
          endpoint: `${sim.url}/jsa/${CONSOLE}`,
          credentials: { token: { env: 'RC_TEST_PASSWORD' } },
          limits,
        },
        // Written with the /api suffix on purpose: the adapter accepts both forms.
        'jsa-basic': {
          provider: 'jsa',
          endpoint: `${sim.url}/jsa/${BASIC_CONSOLE}/api`,
          credentials: { username: { env: 'RC_TEST_USER' }, password: { env: 'RC_TEST_PASSWORD' } },
          limits,
        },
        'jsa-empty': {
          provider: 'jsa',
          endpoint: `${sim.url}/jsa/console-empty`,
          credentials: { token: { env: 'RC_TEST_PASSWORD' } },
          limits,
        },
      },
    });
    registry = new AdapterRegistry(loaded);
    adapter = registry.get('jsa');
    basic = registry.get('jsa-basic');
  });
  afterEach(() => {
    sim.setFaults([]);
    jsa.expectedToken = undefined;
    jsa.users = undefined;
  });
  after(async () => {
    await registry.close();
    await sim.stop();
  });

  for (const status of ['SUCCESS', 'FAILED', 'MISSING'] as const) {
    test(`a ${status} backup: 202 + DELETING, then 404/1001 → gone`, async () => {
      const id = { SUCCESS: 101, FAILED: 102, MISSING: 103 }[status];
      sim.seed('jsa', CONSOLE, [backup(id, { status })]);
      const handle = await adapter.requestDeletion(item(id), {});
      assert.equal(handle.status, 'DELETING');
      const seen = await observeToEnd(adapter, item(id), handle);
      assert.deepEqual(seen[0], { state: 'pending', status: 'DELETING' });
      assert.deepEqual(seen.at(-1), { state: 'gone' });
      assert.ok(
        !jsa.list(CONSOLE).some((b) => (b as { id: number }).id === id),
        'backup removed from the console',
      );
      assert.equal(sim.ctx.counters.acceptedDeletes.get(`jsa:${CONSOLE}:${id}`), 1);
    });
  }

  for (const status of ['INITIALIZING', 'IN_PROGRESS'] as const) {
    test(`deleting an ${status} backup cancels it: CANCELLING, then gone`, async () => {
      const id = status === 'INITIALIZING' ? 111 : 112;
      sim.seed('jsa', CONSOLE, [backup(id, { status })]);
      const handle = await adapter.requestDeletion(item(id), {});
      assert.equal(handle.status, 'CANCELLING');
      const seen = await observeToEnd(adapter, item(id), handle);
      assert.deepEqual(seen[0], { state: 'pending', status: 'CANCELLING' });
      assert.deepEqual(seen.at(-1), { state: 'gone' });
    });
  }

  test('an unknown backup id: 404 code 1001 → not-found on delete, gone on poll', async () => {
    const err = await kindOf(adapter.requestDeletion(item(9999), {}));
    assert.equal(err.kind, 'not-found');
    assert.equal(err.code, '1001');
    assert.deepEqual(await adapter.observeDeletion(item(9999), {}, {}), { state: 'gone' });
  });

  test('a repeated delete while DELETING or CANCELLING (422/1017) is in-progress, not a failure', async () => {
    sim.seed('jsa', CONSOLE, [backup(121), backup(122, { status: 'IN_PROGRESS' })]);
    await adapter.requestDeletion(item(121), {});
    await adapter.requestDeletion(item(122), {});
    const again = await Promise.all([121, 122].map((id) => kindOf(adapter.requestDeletion(item(id), {}))));
    assert.deepEqual(
      again.map((e) => [e.kind, e.code]),
      [
        ['in-progress', '1017'],
        ['in-progress', '1017'],
      ],
    );
    assert.match(again[0]!.message, /DELETING/);
    assert.match(again[1]!.message, /CANCELLING/);
    // The deletion under way is observed to its end with an empty handle.
    for (const id of [121, 122])
      assert.deepEqual((await observeToEnd(adapter, item(id), {})).at(-1), { state: 'gone' });
    assert.equal(sim.ctx.counters.deleteCalls.get(`jsa:${CONSOLE}:121`), 2);
    assert.equal(sim.ctx.counters.acceptedDeletes.get(`jsa:${CONSOLE}:121`), 1);
  });

  test('the other reading: a console that answers a repeated delete with 202 again', async () => {
    const console = 'console-202';
    const other = parseWorkerConfig({
      accounts: {
        j: {
          provider: 'jsa',
          endpoint: `${sim.url}/jsa/${console}`,
          credentials: { token: { env: 'RC_TEST_PASSWORD' } },
        },
      },
    });
    const reg = new AdapterRegistry(other);
    try {
      jsa.configure(console, { repeatDelete: '202' });
      sim.seed('jsa', console, [backup(131)]);
      const a = reg.get('j');
      const it = { account: 'j', id: '131' };
      await a.requestDeletion(it, {});
      assert.deepEqual(await a.requestDeletion(it, {}), { status: 'DELETING' });
      assert.equal(
        sim.ctx.counters.acceptedDeletes.get(`jsa:${console}:131`),
        1,
        'the second 202 started nothing new',
      );
      assert.deepEqual((await observeToEnd(a, it, {})).at(-1), { state: 'gone' });
    } finally {
      await reg.close();
    }
  });

  test('422/1017 on a backup that is not deleting means another operation: busy (retry later)', async () => {
    sim.seed('jsa', CONSOLE, [backup(141)]);
    sim.setFaults([
      {
        provider: 'jsa',
        method: 'DELETE',
        path: '/backups/141$',
        times: 1,
        fault: { kind: 'status', status: 422, body: jsaBody(422, 1017) },
      },
    ]);
    const err = await kindOf(adapter.requestDeletion(item(141), {}));
    assert.equal(err.kind, 'busy');
    assert.match(err.message, /SUCCESS/);
    // ...and 422/1017 for a backup that turns out to be gone is not-found.
    sim.setFaults([
      {
        provider: 'jsa',
        method: 'DELETE',
        path: '/backups/142$',
        fault: { kind: 'status', status: 422, body: jsaBody(422, 1017) },
      },
    ]);
    assert.equal((await kindOf(adapter.requestDeletion(item(142), {}))).kind, 'not-found');
  });

  for (const status of [500, 502, 503, 504, 550]) {
    test(`HTTP ${status} on delete and on poll is transient`, async () => {
      const id = 150 + (status % 100);
      sim.seed('jsa', CONSOLE, [backup(id)]);
      sim.setFaults([
        { provider: 'jsa', path: `/backups/${id}$`, fault: { kind: 'status', status, retryAfter: '2' } },
      ]);
      const del = await kindOf(adapter.requestDeletion(item(id), {}));
      assert.equal(del.kind, 'transient');
      assert.equal(del.retryAfterMs, 2_000);
      if (status === 500) assert.equal(del.code, '1000');
      assert.equal((await kindOf(adapter.observeDeletion(item(id), {}, {}))).kind, 'transient');
      assert.equal(
        sim.ctx.counters.deleteCalls.get(`jsa:${CONSOLE}:${id}`),
        undefined,
        'the fault answered before the console',
      );
    });
  }

  test('a deletion JSA fails puts the backup back to FAILED: observed as failed', async () => {
    sim.seed('jsa', CONSOLE, [backup(161, { sim: { failDelete: true } })]);
    const handle = await adapter.requestDeletion(item(161), {});
    const last = (await observeToEnd(adapter, item(161), handle)).at(-1)!;
    assert.equal(last.state, 'failed');
    assert.equal((last as { code?: string }).code, 'FAILED');
  });

  test('a non-integer id is refused before any request', async () => {
    const before = sim.ctx.counters.requests.get('jsa DELETE') ?? 0;
    const err = await kindOf(adapter.requestDeletion(item('abc'), {}));
    assert.equal(err.kind, 'rejected');
    assert.match(err.message, /integers/);
    assert.equal(sim.ctx.counters.requests.get('jsa DELETE') ?? 0, before);
  });

  test('headers: Version 16.0, Accept application/json and the SEC token', async () => {
    sim.seed('jsa', CONSOLE, [backup(171)]);
    jsa.expectedToken = TEST_CREDENTIAL_ENV.RC_TEST_PASSWORD;
    await adapter.observeDeletion(item(171), {}, {});
    const last = jsa.seen.at(-1)!;
    assert.equal(last.console, CONSOLE);
    assert.equal(last.version, '16.0');
    assert.equal(last.accept, 'application/json');
    assert.equal(last.auth, 'SEC');
  });

  test('a SEC token the console does not know → auth', async () => {
    sim.seed('jsa', CONSOLE, [backup(172)]);
    jsa.expectedToken = 'another-token';
    const err = await kindOf(adapter.requestDeletion(item(172), {}));
    assert.equal(err.kind, 'auth');
    assert.match(err.message, /SEC token/);
    assert.equal(sim.ctx.counters.acceptedDeletes.get(`jsa:${CONSOLE}:172`), undefined);
  });

  test('HTTP Basic with username/password credentials; a wrong password → auth', async () => {
    sim.seed('jsa', BASIC_CONSOLE, [backup(181)]);
    jsa.users = { [TEST_CREDENTIAL_ENV.RC_TEST_USER]: TEST_CREDENTIAL_ENV.RC_TEST_PASSWORD };
    const it = { account: 'jsa-basic', id: '181' };
    assert.deepEqual(await basic.requestDeletion(it, {}), { status: 'DELETING' });
    const last = jsa.seen.at(-1)!;
    assert.equal(last.auth, 'Basic');
    assert.equal(last.version, '16.0');
    assert.equal(last.console, BASIC_CONSOLE);
    assert.equal(last.path, '/api/backup_and_restore/backups/181');
    jsa.users = { [TEST_CREDENTIAL_ENV.RC_TEST_USER]: 'not-this-one' };
    assert.equal((await kindOf(basic.observeDeletion(it, {}, {}))).kind, 'auth');
  });

  test('no credentials → 401; no Version header is accepted (newest version) and recorded', async () => {
    sim.seed('jsa', CONSOLE, [backup(191)]);
    const url = `${sim.url}/jsa/${CONSOLE}/api/backup_and_restore/backups/191`;
    const anon = await request(url, { headers: { Accept: 'application/json', Version: '16.0' } });
    assert.equal(anon.statusCode, 401);
    await anon.body.dump();
    const key = `jsa:${CONSOLE} Version (none)`;
    const before = sim.ctx.counters.requests.get(key) ?? 0;
    const r = await request(url, { headers: { Accept: 'application/json', SEC: 'any-token' } });
    assert.equal(r.statusCode, 200);
    assert.equal(((await r.body.json()) as { id: number }).id, 191);
    assert.equal(sim.ctx.counters.requests.get(key), before + 1);
  });

  test('list: Range pages of 50, Content-Range totals, normalised records', async () => {
    const console = 'console-list';
    const reg = new AdapterRegistry(
      parseWorkerConfig({
        accounts: {
          l: {
            provider: 'jsa',
            endpoint: `${sim.url}/jsa/${console}`,
            credentials: { token: { env: 'RC_TEST_PASSWORD' } },
          },
        },
      }),
    );
    try {
      const seeded = Array.from({ length: 120 }, (_, i) =>
        backup(1000 + i, {
          type: i % 2 ? 'DATA' : 'CONFIG',
          host_id: 53 + (i % 3),
          status: i === 5 ? 'DELETING' : i === 6 ? 'IN_PROGRESS' : i === 7 ? 'FAILED' : 'SUCCESS',
          ...(i === 8 ? { initiated_by: 'corrected-spelling' } : {}),
        }),
      );
      sim.seed('jsa', console, seeded);
      const a = reg.get('l');
      const records = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await a.listBackups(cursor, {});
        records.push(...page.records);
        cursor = page.next;
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.deepEqual(
        jsa.seen.filter((s) => s.console === console).map((s) => s.range),
        ['items=0-49', 'items=50-99', 'items=100-149'],
      );
      assert.equal(records.length, 120);
      assert.deepEqual(new Set(records.map((r) => r.id)).size, 120);
      const r0 = records.find((r) => r.id === '1000')!;
      assert.equal(r0.createdAt, new Date(T0 + 1000 * 60_000).toISOString());
      assert.equal(r0.group, 'CONFIG:53');
      assert.equal(r0.successful, true);
      assert.deepEqual(r0.deletable, { ok: true });
      assert.equal(r0.tags?.initiatedBy, 'admin', 'the documented "intiated_by" spelling is read');
      assert.equal(records.find((r) => r.id === '1008')?.tags?.initiatedBy, 'corrected-spelling');
      assert.equal(records.find((r) => r.id === '1001')?.group, 'DATA:54');
      assert.equal(records.find((r) => r.id === '1005')?.deletable.ok, false, 'DELETING is not deletable');
      assert.equal(
        records.find((r) => r.id === '1006')?.deletable.ok,
        false,
        'a running backup is not a retention candidate',
      );
      const failed = records.find((r) => r.id === '1007')!;
      assert.equal(failed.successful, false);
      assert.deepEqual(failed.deletable, { ok: true });
    } finally {
      await reg.close();
    }
  });

  test('list of an empty console: no records, no next page', async () => {
    const page = await registry.get('jsa-empty').listBackups(undefined, {});
    assert.deepEqual(page, { records: [], total: 0, offset: { asked: 0 } });
  });

  test('malformed answers are `malformed` and name the field', async () => {
    sim.seed('jsa', CONSOLE, [backup(201), backup(202)]);
    sim.setFaults([
      { provider: 'jsa', method: 'GET', path: '/backups/201$', fault: { kind: 'malformed' } },
      {
        provider: 'jsa',
        method: 'GET',
        path: '/backups/202$',
        fault: { kind: 'status', status: 200, body: { id: 202, name: 'no status' } },
      },
      {
        provider: 'jsa',
        method: 'GET',
        path: '/backups$',
        fault: { kind: 'status', status: 200, body: [{ ...backup(203), type: null }] },
      },
    ]);
    const poll = await kindOf(adapter.observeDeletion(item(201), {}, {}));
    assert.equal(poll.kind, 'malformed');
    assert.match(poll.message, /expected a JSON body/);
    const noStatus = await kindOf(adapter.observeDeletion(item(202), {}, {}));
    assert.equal(noStatus.kind, 'malformed');
    assert.match(noStatus.message, /field status/);
    const list = await kindOf(adapter.listBackups(undefined, {}));
    assert.equal(list.kind, 'malformed');
    assert.match(list.message, /field \[0\]\.type/);
  });
});

describe('JSA through the workflows (real dev server)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack({ jsa: { provider: 'jsa' } }, { sim: { timings: { deleteMs: { jsa: 300 } } } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  test('every documented state ends with the right outcome, through transient 500/1000 and 503 answers', async () => {
    const scope = stack.scope('jsa');
    const account = stack.account('jsa');
    stack.sim.seed('jsa', scope, [
      backup(1, { status: 'SUCCESS' }),
      backup(2, { status: 'FAILED', type: 'DATA' }),
      backup(3, { status: 'IN_PROGRESS' }),
      backup(4, { status: 'DELETING', sim: { deletingForMs: 20_000 } }),
      backup(5, { status: 'SUCCESS', sim: { failDelete: true } }),
    ]);
    stack.sim.setFaults([
      { provider: 'jsa', method: 'DELETE', rate: 0.5, fault: { kind: 'status', status: 500 } },
      { provider: 'jsa', method: 'GET', rate: 0.3, fault: { kind: 'status', status: 503 } },
    ]);
    const ids = ['1', '2', '3', '4', '5', '404', 'not-a-number'];
    const id = await rc.start({ items: ids.map((i) => ({ account, id: i })), dryRun: false });
    const summary = await rc.result(id);
    stack.sim.setFaults([]);
    const outcomes = new Map<string, ItemOutcome>();
    for await (const o of rc.report(id)) outcomes.set(o.id, o);
    const got = Object.fromEntries([...outcomes].map(([k, o]) => [k, o.outcome]));
    assert.deepEqual(got, {
      '1': 'deleted',
      '2': 'deleted',
      '3': 'deleted', // cancelled, then gone
      '4': 'deleted', // someone else's deletion (422/1017), observed to its end
      '5': 'failed',
      '404': 'absent',
      'not-a-number': 'failed',
    });
    assert.deepEqual(summary.counts, { deleted: 4, absent: 1, blocked: 0, failed: 2, skipped: 0 });
    assert.equal(outcomes.get('5')?.code, 'FAILED');
    assert.match(outcomes.get('not-a-number')?.reason ?? '', /integers/);
    assert.equal(outcomes.get('404')?.code, '1001');
    for (const i of ['1', '2', '3', '5'])
      assert.equal(
        stack.sim.ctx.counters.acceptedDeletes.get(`jsa:${scope}:${i}`),
        1,
        `one accepted delete of ${i}`,
      );
    assert.equal(
      stack.sim.ctx.counters.acceptedDeletes.get(`jsa:${scope}:4`),
      undefined,
      'the running deletion was not restarted',
    );
    // A repeat would be answered 422/1017 (busy) or 404/1001 and never show as a second acceptance.
    assertNoRepeats(stack.sim, `jsa:${scope}:`);
    assert.deepEqual(
      stack.sim
        .provider('jsa')
        .list(scope)
        .map((b) => (b as { id: number; status: string }).status),
      ['FAILED'],
      'only the backup whose deletion failed is left',
    );
  });
});

/**
 * Huawei TaurusDB: classifier unit tests, contract tests of the adapter against the simulator over
 * real HTTP (the simulator's clock under the test's control), and runs through the workflow on the
 * real Temporal dev server.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { HttpClient, type HttpResponse } from '../activities/http';
import { APIG_THROTTLE_DELAY_MS, HuaweiSession } from '../activities/providers/huawei';
import { TaurusDbAdapter, taurusDbAdapterFactory } from '../activities/providers/taurusdb';
import { RetentionClient } from '../client/retention-client';
import type { BackupRecord } from '../contract/model';
import { parseWorkerConfig, type HuaweiAccountConfig } from '../worker/config';
import { Simulator } from '../simulator/server';
import type { TaurusBackup, TaurusDbSim } from '../simulator/taurusdb';
import { assertNoRepeats } from './helpers/deletes';
import { configFor, startStack, TEST_CREDENTIAL_ENV, type Stack } from './helpers/stack';
import { huaweiAdapterFor, providerRejection } from './helpers/adapters';
import { reportById } from './helpers/runs';

const TOKEN_KEY = 'huawei:sim-domain:sim-user';
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

/** A time as TaurusDB writes it: "yyyy-mm-ddThh:mm:ssZ" with Z the offset, here +0800. */
function beijing(utcMs: number): string {
  return `${new Date(utcMs + 8 * HOUR).toISOString().slice(0, 19)}+0800`;
}

/** Manual backups in the simulator's seed shape, on instances inst-0..2. */
function taurusBackups(n: number, prefix: string, extra: Partial<TaurusBackup> = {}): TaurusBackup[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(4, '0')}br07`,
    name: `manual-${prefix}-${i}`,
    begin_time: beijing(T0 + i * HOUR),
    instance_id: `inst-${i % 3}in07`,
    type: 'manual',
    ...extra,
  }));
}

function response(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers, body, text: body === undefined ? '' : JSON.stringify(body) };
}

/** One listed backup, as the fault injector serves it to make a call see what a test needs. */
function listedBody(id: string, status = 'COMPLETED') {
  return {
    backups: [{ id, name: id, begin_time: beijing(T0), status, type: 'manual', instance_id: 'inst-0in07' }],
    total_count: 1,
  };
}

// ---------------------------------------------------------------------------------------------
describe('TaurusDB classifier', () => {
  const account = parseWorkerConfig(
    configFor('http://127.0.0.1:1', { a: { provider: 'taurusdb', scope: 'p' } }, (n) => n),
    'test',
  ).config.accounts.a as HuaweiAccountConfig;
  const adapter = new TaurusDbAdapter('a', account, {} as HuaweiSession);
  const cases: Array<[number, string, string, string?]> = [
    [400, 'DBS.201203', 'not-found'],
    [404, 'DBS.201010', 'not-found'],
    [400, 'DBS.201208', 'blocked', 'COMPLETED'],
    [400, 'DBS.201208', 'blocked'],
    [400, 'DBS.201208', 'busy', 'BUILDING'],
    [409, 'DBS.201205', 'busy'],
    [409, 'DBS.200011', 'busy'],
    [500, 'DBS.108000', 'transient'],
    [500, 'DBS.200005', 'transient'],
    [429, 'APIG.0308', 'transient'],
    [429, 'APIGW.0308', 'transient'],
    [404, 'APIGW.0101', 'misconfigured'],
    [400, 'DBS.200001', 'rejected'],
    [401, 'APIGW.0301', 'auth'],
  ];
  for (const [status, code, kind, backupStatus] of cases) {
    test(`${status} ${code}${backupStatus ? ` on a ${backupStatus} backup` : ''} → ${kind}, keeping the code and message`, () => {
      const err = adapter.classify(
        response(status, { error_code: code, error_msg: `msg of ${code}` }),
        'what',
        backupStatus,
      );
      assert.equal(err.kind, kind);
      assert.equal(err.info.code, code);
      assert.equal(err.info.status, status);
      assert.match(
        err.message,
        new RegExp(`^what: .*${code.replace('.', '\\.')}: msg of ${code.replace('.', '\\.')}`),
      );
    });
  }

  test('DBS.201208 whose message names BUILDING is "busy" even when the status is unknown', () => {
    const err = adapter.classify(
      response(400, {
        error_code: 'DBS.201208',
        error_msg: 'This operation is not allowed in the current backup status: BUILDING.',
      }),
      'w',
    );
    assert.equal(err.kind, 'busy');
  });

  test('APIG throttling without Retry-After waits a few seconds', () => {
    const err = adapter.classify(
      response(429, { error_code: 'APIG.0308', error_msg: 'over ratelimit' }),
      'w',
    );
    assert.equal(err.info.retryAfterMs, APIG_THROTTLE_DELAY_MS);
  });
});

// ---------------------------------------------------------------------------------------------
describe('TaurusDB adapter against the simulator (contract)', () => {
  let sim: Simulator;
  let taurus: TaurusDbSim;
  let clock: number;
  const clients: HttpClient[] = [];
  /** An adapter for `project` built the way the worker's registry builds it. */
  const adapterFor = (project: string, endpointSuffix = '') =>
    huaweiAdapterFor<TaurusDbAdapter>(
      sim.url,
      'taurusdb',
      taurusDbAdapterFactory,
      clients,
      project,
      endpointSuffix,
    );

  const seed = (project: string, backups: unknown[]) => sim.seed('taurusdb', project, backups);
  const ids = (project: string) => (taurus.list(project) as Array<{ id: string }>).map((b) => b.id);
  const item = (b: TaurusBackup) => ({ account: 'acc', id: b.id });
  const deleteCalls = (project: string, id: string) =>
    sim.ctx.counters.deleteCalls.get(`taurusdb:${project}:${id}`) ?? 0;

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV);
    sim = new Simulator({ timings: { deleteMs: { taurusdb: 1_000 } } });
    await sim.start();
    taurus = sim.provider('taurusdb') as TaurusDbSim;
    clock = Date.now();
    sim.ctx.now = () => clock;
  });
  afterEach(() => {
    sim.setFaults([]);
    taurus.notFoundCode = 'DBS.201203';
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.stop();
  });

  test('a manual backup: delete → 200, still listed with its prior status while deleting, then gone from the list', async () => {
    const a = adapterFor('p-life');
    const [b] = taurusBackups(1, 'life');
    seed('p-life', [b]);
    assert.deepEqual(await a.requestDeletion(item(b!), {}), {});
    assert.deepEqual(taurus.list('p-life'), [
      {
        id: b!.id,
        name: b!.name,
        begin_time: b!.begin_time,
        end_time: b!.begin_time,
        status: 'COMPLETED',
        take_up_time: 2,
        type: 'manual',
        size: 1024,
        datastore: { type: 'gaussdb-mysql', version: '8.0' },
        instance_id: b!.instance_id,
        description: '',
      },
    ]);
    assert.deepEqual(await a.observeDeletion(item(b!), {}, {}), { state: 'pending', status: 'COMPLETED' });
    clock += 1_000;
    assert.deepEqual(await a.observeDeletion(item(b!), {}, {}), { state: 'gone' });
    assert.deepEqual(ids('p-life'), []);
    assert.equal(sim.ctx.counters.acceptedDeletes.get(`taurusdb:p-life:${b!.id}`), 1);
  });

  test('an automated backup is blocked and never sent a delete', async () => {
    const a = adapterFor('p-auto');
    const [b] = taurusBackups(1, 'auto', { type: 'auto' });
    seed('p-auto', [b]);
    const err = await providerRejection(a.requestDeletion(item(b!), {}));
    assert.equal(err.kind, 'blocked');
    assert.match(err.message, /automated backup/);
    assert.equal(deleteCalls('p-auto', b!.id), 0);
    assert.deepEqual(ids('p-auto'), [b!.id]);
  });

  test('the simulator itself refuses to delete an automated backup (DBS.201208 → blocked)', async () => {
    const a = adapterFor('p-auto2');
    const [b] = taurusBackups(1, 'auto2', { type: 'auto' });
    seed('p-auto2', [b]);
    // The check-first query is told "manual", so the DELETE reaches the simulator's own rule.
    sim.setFaults([
      {
        provider: 'taurusdb',
        method: 'GET',
        times: 1,
        fault: { kind: 'status', status: 200, body: listedBody(b!.id) },
      },
    ]);
    const err = await providerRejection(a.requestDeletion(item(b!), {}));
    assert.equal(err.kind, 'blocked');
    assert.equal(err.info.code, 'DBS.201208');
    assert.deepEqual(ids('p-auto2'), [b!.id]);
  });

  test('a backup not listed is "not-found" at once, without a delete call', async () => {
    const a = adapterFor('p-missing');
    const err = await providerRejection(a.requestDeletion({ account: 'acc', id: 'nonebr07' }, {}));
    assert.equal(err.kind, 'not-found');
    assert.equal(deleteCalls('p-missing', 'nonebr07'), 0);
  });

  test('DBS.201203 (400) and DBS.201010 (404) from delete are "not-found"', async () => {
    const a = adapterFor('p-gone');
    for (const code of ['DBS.201203', 'DBS.201010'] as const) {
      taurus.notFoundCode = code;
      // Listed at the check, gone by the delete: the race the provider's own answer must settle.
      sim.setFaults([
        {
          provider: 'taurusdb',
          method: 'GET',
          times: 1,
          fault: { kind: 'status', status: 200, body: listedBody('racebr07') },
        },
      ]);
      const err = await providerRejection(a.requestDeletion({ account: 'acc', id: 'racebr07' }, {}));
      assert.equal(err.kind, 'not-found', code);
      assert.equal(err.info.code, code);
      assert.equal(err.info.status, code === 'DBS.201010' ? 404 : 400);
    }
    assert.equal(deleteCalls('p-gone', 'racebr07'), 2);
  });

  test('a list query answered 404 DBS.201010 while observing means gone', async () => {
    const a = adapterFor('p-obs404');
    sim.setFaults([
      {
        provider: 'taurusdb',
        method: 'GET',
        times: 1,
        fault: {
          kind: 'status',
          status: 404,
          body: { error_code: 'DBS.201010', error_msg: 'The backup does not exist.' },
        },
      },
    ]);
    assert.deepEqual(await a.observeDeletion({ account: 'acc', id: 'xbr07' }, {}, {}), { state: 'gone' });
  });

  test('BUILDING: 409 DBS.201205 or 400 DBS.201208 are both "busy"; once the build completes the delete is accepted', async () => {
    const a = adapterFor('p-building');
    const [b205] = taurusBackups(1, 'bld205', { sim: { buildingMs: 5_000 } });
    const [b208] = taurusBackups(1, 'bld208', { sim: { buildingMs: 5_000, buildingAnswer: 'DBS.201208' } });
    seed('p-building', [b205, b208]);
    const first = await providerRejection(a.requestDeletion(item(b205!), {}));
    assert.equal(first.kind, 'busy');
    assert.equal(first.info.code, 'DBS.201205');
    assert.equal(first.info.status, 409);
    const second = await providerRejection(a.requestDeletion(item(b208!), {}));
    assert.equal(second.kind, 'busy');
    assert.equal(second.info.code, 'DBS.201208');
    const [listed] = (await a.listBackups(undefined, {})).records.filter((r) => r.id === b205!.id);
    assert.deepEqual(listed!.deletable, { ok: false, reason: 'status BUILDING (being created)' });
    assert.equal(listed!.successful, false);
    clock += 5_000;
    assert.deepEqual(await a.requestDeletion(item(b205!), {}), {});
    assert.deepEqual(await a.requestDeletion(item(b208!), {}), {});
  });

  test('DBS.201208 on a backup that is not BUILDING is "blocked", naming its status', async () => {
    const a = adapterFor('p-notallowed');
    const [b] = taurusBackups(1, 'na', { status: 'FAILED', sim: { notAllowed: true } });
    seed('p-notallowed', [b]);
    const err = await providerRejection(a.requestDeletion(item(b!), {}));
    assert.equal(err.kind, 'blocked');
    assert.equal(err.info.code, 'DBS.201208');
    assert.match(err.message, /backup status FAILED/);
  });

  test('409 DBS.200011 (another operation) is "busy", also for a second delete while the first runs', async () => {
    const a = adapterFor('p-busy');
    const [once] = taurusBackups(1, 'busy', { sim: { busy: 1 } });
    seed('p-busy', [once]);
    const err = await providerRejection(a.requestDeletion(item(once!), {}));
    assert.equal(err.kind, 'busy');
    assert.equal(err.info.code, 'DBS.200011');
    assert.equal(err.info.status, 409);
    assert.deepEqual(await a.requestDeletion(item(once!), {}), {});
    const again = await providerRejection(a.requestDeletion(item(once!), {}));
    assert.equal(again.kind, 'busy');
    assert.equal(again.info.code, 'DBS.200011');
    assert.equal(sim.ctx.counters.acceptedDeletes.get(`taurusdb:p-busy:${once!.id}`), 1);
  });

  test('DBS.108000 / DBS.200005 (500) are transient', async () => {
    const a = adapterFor('p-5xx');
    const [b] = taurusBackups(1, 'fivexx');
    seed('p-5xx', [b]);
    for (const code of ['DBS.108000', 'DBS.200005']) {
      sim.setFaults([
        {
          provider: 'taurusdb',
          method: 'DELETE',
          times: 1,
          fault: { kind: 'status', status: 500, body: { error_code: code, error_msg: 'internal error' } },
        },
      ]);
      const err = await providerRejection(a.requestDeletion(item(b!), {}));
      assert.equal(err.kind, 'transient');
      assert.equal(err.info.code, code);
    }
    assert.deepEqual(await a.requestDeletion(item(b!), {}), {});
  });

  test('429 APIG.0308 throttling is transient with a few seconds delay', async () => {
    const a = adapterFor('p-throttle');
    sim.setFaults([
      { provider: 'taurusdb', method: 'GET', times: 1, fault: { kind: 'status', status: 429 } },
    ]);
    const err = await providerRejection(a.listBackups(undefined, {}));
    assert.equal(err.kind, 'transient');
    assert.equal(err.info.code, 'APIG.0308');
    assert.equal(err.info.retryAfterMs, APIG_THROTTLE_DELAY_MS);
    assert.deepEqual((await a.listBackups(undefined, {})).records, []);
  });

  test('a deletion the provider silently drops stays pending: it is never reported gone', async () => {
    const a = adapterFor('p-drop');
    const [b] = taurusBackups(1, 'drop', { sim: { failDelete: true } });
    seed('p-drop', [b]);
    await a.requestDeletion(item(b!), {});
    clock += 5_000;
    assert.deepEqual(await a.observeDeletion(item(b!), {}, {}), { state: 'pending', status: 'COMPLETED' });
    assert.deepEqual(ids('p-drop'), [b!.id]);
  });

  test('malformed answers are "malformed", naming the field', async () => {
    const a = adapterFor('p-malformed');
    const [b] = taurusBackups(1, 'malf');
    seed('p-malformed', [b]);
    sim.setFaults([{ provider: 'taurusdb', method: 'GET', times: 1, fault: { kind: 'malformed' } }]);
    const cut = await providerRejection(a.observeDeletion(item(b!), {}, {}));
    assert.equal(cut.kind, 'malformed');
    assert.match(cut.message, /expected a JSON body/);

    sim.setFaults([
      {
        provider: 'taurusdb',
        method: 'GET',
        times: 1,
        fault: {
          kind: 'status',
          status: 200,
          body: {
            backups: [{ id: b!.id, begin_time: 'x', status: 'COMPLETED', instance_id: 'i' }],
            total_count: 1,
          },
        },
      },
    ]);
    const type = await providerRejection(a.observeDeletion(item(b!), {}, {}));
    assert.equal(type.kind, 'malformed');
    assert.match(type.message, /field backups\[0\]\.type/);

    // A list that ignores the backup_id filter could hide ours on another page: never read as "gone".
    sim.setFaults([
      {
        provider: 'taurusdb',
        method: 'GET',
        times: 1,
        fault: { kind: 'status', status: 200, body: listedBody('someone-elsebr07') },
      },
    ]);
    const ignored = await providerRejection(a.observeDeletion(item(b!), {}, {}));
    assert.equal(ignored.kind, 'malformed');
    assert.match(ignored.message, /field backups\[0\]\.id/);
  });

  test('a wrong endpoint (gateway 404 APIGW.0101) is misconfigured, never read as "gone"', async () => {
    const a = adapterFor('p-route', '/wrong');
    const err = await providerRejection(a.observeDeletion({ account: 'acc', id: 'xbr07' }, {}, {}));
    assert.equal(err.kind, 'misconfigured');
    assert.equal(err.info.code, 'APIGW.0101');
    assert.match(err.message, /check accounts\.acc\.endpoint \(http:\/\/127\.0\.0\.1:\d+\/taurusdb\/wrong\)/);
  });

  test('list: offset pagination over 230 backups into normalised records (UTC times, instance groups, automated not deletable)', async () => {
    const a = adapterFor('p-list');
    const backups = taurusBackups(230, 'list');
    backups[0]!.type = 'auto';
    backups[1]!.status = 'FAILED';
    backups[2]!.size = 2048.5;
    backups[3]!.status = 'AVAILABLE';
    seed('p-list', backups);
    const pages: BackupRecord[][] = [];
    let cursor: string | undefined;
    do {
      const page = await a.listBackups(cursor, {});
      pages.push(page.records);
      cursor = page.next;
    } while (cursor);
    assert.deepEqual(
      pages.map((p) => p.length),
      [100, 100, 30],
    );
    const byId = new Map(pages.flat().map((r) => [r.id, r]));
    assert.equal(byId.size, 230);
    const r0 = byId.get(backups[0]!.id)!;
    assert.equal(r0.createdAt, '2026-01-01T00:00:00.000Z', '+0800 read as an offset');
    assert.equal(r0.group, 'inst-0in07');
    assert.equal(r0.provider, 'taurusdb');
    assert.equal(r0.backupId, backups[0]!.id);
    assert.equal(r0.successful, true);
    assert.deepEqual(r0.deletable, {
      ok: false,
      reason: 'automated backup: TaurusDB deletes manual backups only',
    });
    const r1 = byId.get(backups[1]!.id)!;
    assert.equal(r1.successful, false);
    assert.deepEqual(r1.deletable, { ok: true });
    assert.equal(r1.createdAt, '2026-01-01T01:00:00.000Z');
    assert.equal(byId.get(backups[2]!.id)!.sizeBytes, Math.round(2048.5 * 1024));
    assert.equal(byId.get(backups[3]!.id)!.successful, true, 'AVAILABLE counts as successful');
    assert.equal(byId.get(backups[3]!.id)!.status, 'AVAILABLE');
  });

  test('one IAM token serves many calls; a revoked token gets exactly one new token', async () => {
    const a = adapterFor('p-token');
    const backups = taurusBackups(8, 'tok');
    seed('p-token', backups);
    const tokens = () => sim.ctx.counters.tokensIssued.get(TOKEN_KEY) ?? 0;
    const before = tokens();
    for (const b of backups) await a.requestDeletion(item(b), {});
    for (const b of backups) await a.observeDeletion(item(b), {}, {});
    assert.equal(tokens() - before, 1, 'one token for 24 calls');
    sim.ctx.revokeHuaweiTokens();
    assert.deepEqual(await a.observeDeletion(item(backups[0]!), {}, {}), {
      state: 'pending',
      status: 'COMPLETED',
    });
    await a.listBackups(undefined, {});
    assert.equal(tokens() - before, 2, 'one new token after the 401, reused afterwards');
  });
});

// ---------------------------------------------------------------------------------------------
describe('TaurusDB through the workflow (real Temporal dev server)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        taurus: { provider: 'taurusdb' },
        // requestTimeout within the deadline (a deadline shorter than one request is refused at load).
        short: { provider: 'taurusdb', limits: { deletionDeadline: '3s', requestTimeout: '2s' } },
      },
      { sim: { timings: { deleteMs: { taurusdb: 300 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  test('manual backups deleted, automated blocked and untouched, unknown absent, BUILDING retried until deleted', async () => {
    const project = stack.scope('taurus');
    const account = stack.account('taurus');
    const manual = taurusBackups(12, 'wf');
    const [auto] = taurusBackups(1, 'wf-auto', { type: 'auto' });
    const [building] = taurusBackups(1, 'wf-building', { status: 'BUILDING' });
    stack.sim.seed('taurusdb', project, [...manual, auto, building]);
    stack.sim.setFaults([
      { provider: 'taurusdb', method: 'DELETE', times: 2, fault: { kind: 'status', status: 429 } },
    ]);
    const all = [...manual, auto!, building!].map((b) => ({ account, id: b.id }));
    const id = await rc.start({ items: [...all, { account, id: 'never-existedbr07' }], dryRun: false });
    // Once a delete of the BUILDING backup has been refused, its build completes.
    const buildingKey = `taurusdb:${project}:${building!.id}`;
    for (let i = 0; !stack.sim.ctx.counters.deleteCalls.get(buildingKey); i++) {
      assert.ok(i < 600, 'a delete of the BUILDING backup was attempted');
      await new Promise((r) => setTimeout(r, 50));
    }
    (stack.sim.provider('taurusdb') as TaurusDbSim).finishBuilding(project, building!.id);
    const summary = await rc.result(id);
    stack.sim.setFaults([]);
    assert.deepEqual(summary.counts, { deleted: 13, absent: 1, blocked: 1, failed: 0, skipped: 0 });
    const o = await reportById(rc, id);
    assert.equal(o.get(auto!.id)?.outcome, 'blocked');
    assert.match(o.get(auto!.id)?.reason ?? '', /automated backup/);
    assert.equal(o.get(building!.id)?.outcome, 'deleted');
    assert.equal(o.get('never-existedbr07')?.outcome, 'absent');
    const counters = stack.sim.ctx.counters;
    assert.equal(
      counters.deleteCalls.get(`taurusdb:${project}:${auto!.id}`),
      undefined,
      'no delete call for the automated backup',
    );
    assert.ok(
      (counters.deleteCalls.get(`taurusdb:${project}:${building!.id}`) ?? 0) >= 2,
      'the BUILDING backup was refused, then deleted',
    );
    for (const b of [...manual, building!])
      assert.equal(counters.acceptedDeletes.get(`taurusdb:${project}:${b.id}`), 1, b.id);
    // Observed by listing, never by deleting again (a repeat would be answered 409 or DBS.201203).
    assertNoRepeats(stack.sim, `taurusdb:${project}:`);
    assert.deepEqual(
      (stack.sim.provider('taurusdb').list(project) as Array<{ id: string }>).map((b) => b.id),
      [auto!.id],
    );
  });

  test('a deletion the provider never completes ends failed at the account deadline, not deleted', async () => {
    const project = stack.scope('short');
    const account = stack.account('short');
    const [b] = taurusBackups(1, 'wf-drop', { sim: { failDelete: true } });
    stack.sim.seed('taurusdb', project, [b]);
    const id = await rc.start({ items: [{ account, id: b!.id }], dryRun: false });
    const summary = await rc.result(id);
    assert.deepEqual(summary.counts, { deleted: 0, absent: 0, blocked: 0, failed: 1, skipped: 0 });
    const o = await reportById(rc, id);
    assert.match(o.get(b!.id)?.reason ?? '', /deadline/);
  });
});

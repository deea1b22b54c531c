/**
 * Huawei CSBS: classifier unit tests, contract tests of the adapter against the simulator over real
 * HTTP (with the simulator's clock under the test's control, so queue states are exact), and runs
 * through the workflow on the real Temporal dev server.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { HttpClient, type HttpResponse } from '../activities/http';
import type { Observation } from '../activities/providers/adapter';
import { CsbsAdapter, csbsAdapterFactory } from '../activities/providers/csbs';
import { APIG_THROTTLE_DELAY_MS, HuaweiSession } from '../activities/providers/huawei';
import { RetentionClient } from '../client/retention-client';
import type { BackupRecord } from '../contract/model';
import { parseWorkerConfig, type HuaweiAccountConfig } from '../worker/config';
import { CsbsSim, type CsbsCheckpointItem } from '../simulator/csbs';
import { Simulator } from '../simulator/server';
import { assertNoRepeats } from './helpers/deletes';
import {
  configFor,
  csbsItems,
  csbsRef as ref,
  startStack,
  TEST_CREDENTIAL_ENV,
  type Stack,
} from './helpers/stack';
import { huaweiAdapterFor, providerRejection } from './helpers/adapters';
import { reportById } from './helpers/runs';

const TOKEN_KEY = 'huawei:sim-domain:sim-user';

function response(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers, body, text: body === undefined ? '' : JSON.stringify(body) };
}

// ---------------------------------------------------------------------------------------------
describe('CSBS classifier', () => {
  const account = parseWorkerConfig(
    configFor('http://127.0.0.1:1', { a: { provider: 'csbs', scope: 'p' } }, (n) => n),
    'test',
  ).config.accounts.a as HuaweiAccountConfig;
  const adapter = new CsbsAdapter('a', account, {} as HuaweiSession);
  const cases: Array<[number, string, string]> = [
    [400, 'CSBS.2003', 'busy'],
    [404, 'CSBS.3001', 'not-found'],
    [400, 'CSBS.8007', 'blocked'],
    [500, 'CSBS.9998', 'transient'],
    [500, 'CSBS.9999', 'transient'],
    [400, 'BackupService.4008', 'blocked'],
    [429, 'APIG.0308', 'transient'],
    [429, 'APIGW.0308', 'transient'],
    [404, 'APIGW.0101', 'misconfigured'],
    [400, 'CSBS.1000', 'rejected'],
    [503, 'CSBS.0000', 'transient'],
    [403, 'CSBS.0001', 'auth'],
  ];
  for (const [status, code, kind] of cases) {
    test(`${status} ${code} → ${kind}, keeping the code and message`, () => {
      const err = adapter.classify(
        response(status, { error_code: code, error_msg: `msg of ${code}` }),
        'what',
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

  test('APIG throttling without Retry-After waits a few seconds; with it, what the gateway says', () => {
    const plain = adapter.classify(
      response(429, { error_code: 'APIG.0308', error_msg: 'over ratelimit' }),
      'w',
    );
    assert.equal(plain.info.retryAfterMs, APIG_THROTTLE_DELAY_MS);
    const told = adapter.classify(
      response(429, { error_code: 'APIG.0308', error_msg: 'x' }, { 'retry-after': '7' }),
      'w',
    );
    assert.equal(told.info.retryAfterMs, 7000);
  });

  test('a body that is not a Huawei error still classifies by status', () => {
    assert.equal(adapter.classify(response(502, '<html>bad gateway</html>'), 'w').kind, 'transient');
    // A 404 without CSBS.3001 is a wrong endpoint, whatever its body: never "absent".
    const bare = adapter.classify(response(404, undefined), 'w');
    assert.equal(bare.kind, 'misconfigured');
    assert.match(
      bare.message,
      /HTTP 404 without CSBS\.3001 \(empty body\): check accounts\.a\.endpoint \(http:\/\/127\.0\.0\.1:1\/csbs\)/,
    );
    assert.equal(adapter.classify(response(404, '<html>no</html>'), 'w').kind, 'misconfigured');
  });
});

// ---------------------------------------------------------------------------------------------
describe('CSBS adapter against the simulator (contract)', () => {
  let sim: Simulator;
  let csbs: CsbsSim;
  let clock: number;
  const clients: HttpClient[] = [];
  /** An adapter for `project` built the way the worker's registry builds it. */
  const adapterFor = (project: string, endpointSuffix = '') =>
    huaweiAdapterFor<CsbsAdapter>(sim.url, 'csbs', csbsAdapterFactory, clients, project, endpointSuffix);

  /** Raw authenticated GET, to see what the simulator answers beyond the adapter's reading of it. */
  async function rawGet(project: string, path: string): Promise<HttpResponse> {
    const account = parseWorkerConfig(
      configFor(sim.url, { p: { provider: 'csbs', scope: project } }, (n) => n),
      't',
    ).config.accounts.p as HuaweiAccountConfig;
    const http = new HttpClient({ timeoutMs: 5_000 });
    clients.push(http);
    return new HuaweiSession(http, account, () => ({ username: 'probe', password: 'x' })).send(
      'GET',
      path,
      {},
    );
  }

  const seed = (project: string, items: unknown[]) => sim.seed('csbs', project, items);
  const tokens = () => sim.ctx.counters.tokensIssued.get(TOKEN_KEY) ?? 0;

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV);
    sim = new Simulator({ timings: { deleteMs: { csbs: 1_000 } } });
    await sim.start();
    csbs = sim.provider('csbs') as CsbsSim;
    clock = Date.now();
    sim.ctx.now = () => clock;
  });
  afterEach(() => sim.setFaults([]));
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.stop();
  });

  test('an accepted delete goes deleting → deleted → 404 CSBS.3001, each read by the adapter', async () => {
    const a = adapterFor('p-life');
    const [b] = csbsItems(1, 'life');
    seed('p-life', [b]);
    const handle = await a.requestDeletion(ref('acc', b!), {});
    assert.deepEqual(handle, { checkpointId: 'cp-life' });
    assert.deepEqual(await a.observeDeletion(ref('acc', b!), handle, {}), {
      state: 'pending',
      status: 'deleting',
    });

    clock += 1_000;
    const shown = await rawGet('p-life', `/v1/p-life/checkpoint_items/${b!.id}`);
    assert.equal((shown.body as { checkpoint_item: { status: string } }).checkpoint_item.status, 'deleted');
    assert.deepEqual(await a.observeDeletion(ref('acc', b!), handle, {}), { state: 'gone' });

    clock += csbs.deletedVisibleMs;
    const gone = await rawGet('p-life', `/v1/p-life/checkpoint_items/${b!.id}`);
    assert.equal(gone.status, 404);
    assert.equal((gone.body as { error_code: string }).error_code, 'CSBS.3001');
    assert.deepEqual(await a.observeDeletion(ref('acc', b!), handle, {}), { state: 'gone' });
    assert.equal(sim.ctx.counters.acceptedDeletes.get(`csbs:p-life:${b!.id}`), 1);
  });

  test('the 6th and later deletions wait (waiting_delete) until one of 5 runners frees, first come first served', async () => {
    const a = adapterFor('p-queue');
    const items = csbsItems(8, 'q');
    seed('p-queue', items);
    for (const b of items.slice(0, 7)) await a.requestDeletion(ref('acc', b), {});
    const statuses = async (list: CsbsCheckpointItem[]) =>
      Promise.all(list.map(async (b) => describeObservation(await a.observeDeletion(ref('acc', b), {}, {}))));

    assert.deepEqual(await statuses(items.slice(0, 7)), [
      ...Array(5).fill('deleting'),
      'waiting_delete',
      'waiting_delete',
    ]);
    clock += 1_000; // the first five finish; the two queued ones start
    assert.deepEqual(await statuses(items.slice(0, 7)), [...Array(5).fill('gone'), 'deleting', 'deleting']);
    await a.requestDeletion(ref('acc', items[7]!), {}); // three runners are free: starts at once
    assert.deepEqual(await statuses(items.slice(7)), ['deleting']);
    clock += 1_000;
    assert.deepEqual(await statuses(items), Array(8).fill('gone'));
    // The client had 7 deletions in progress at once (5 running + 2 queued): that is what its limit bounds.
    assert.equal(sim.ctx.counters.maxConcurrent('csbs:p-queue'), 7);
  });

  test('CSBS.2003 (backup busy) is "busy"; a busy-once backup is accepted on the next try', async () => {
    const a = adapterFor('p-busy');
    const [always] = csbsItems(1, 'busy-always', { sim: { busy: true } });
    const [once] = csbsItems(1, 'busy-once', { sim: { busy: 1 } });
    const [protecting] = csbsItems(1, 'protecting', { status: 'protecting' });
    seed('p-busy', [always, once, protecting]);
    for (const b of [always!, once!, protecting!]) {
      const err = await providerRejection(a.requestDeletion(ref('acc', b), {}));
      assert.equal(err.kind, 'busy', b.id);
      assert.equal(err.info.code, 'CSBS.2003');
      assert.equal(err.info.status, 400);
    }
    assert.deepEqual(await a.requestDeletion(ref('acc', once!), {}), { checkpointId: once!.checkpoint_id });
    assert.equal(sim.ctx.counters.acceptedDeletes.get(`csbs:p-busy:${always!.id}`), undefined);
  });

  test('a second delete of an item already deleting is observed, not waited out as "busy"', async () => {
    const a = adapterFor('p-again');
    const [b] = csbsItems(1, 'again');
    seed('p-again', [b]);
    await a.requestDeletion(ref('acc', b!), {});
    const err = await providerRejection(a.requestDeletion(ref('acc', b!), {}));
    assert.equal(err.kind, 'in-progress');
    assert.equal(err.info.code, 'CSBS.2003');
    assert.equal(sim.ctx.counters.acceptedDeletes.get(`csbs:p-again:${b!.id}`), 1);
  });

  test('CSBS.3001 on delete is "not-found"; an unknown item is never reported deleted', async () => {
    const a = adapterFor('p-missing');
    const err = await providerRejection(
      a.requestDeletion({ account: 'acc', id: 'nope', checkpointId: 'cp-x' }, {}),
    );
    assert.equal(err.kind, 'not-found');
    assert.equal(err.info.code, 'CSBS.3001');
    assert.equal(err.info.status, 404);
    const noCheckpoint = await providerRejection(a.requestDeletion({ account: 'acc', id: 'nope' }, {}));
    assert.equal(noCheckpoint.kind, 'not-found');
  });

  test('a wrong checkpointId is rejected naming both checkpoints, and nothing is deleted', async () => {
    const a = adapterFor('p-wrongcp');
    const [b] = csbsItems(1, 'wrongcp');
    seed('p-wrongcp', [b]);
    const err = await providerRejection(
      a.requestDeletion({ account: 'acc', id: b!.id, checkpointId: 'cp-other' }, {}),
    );
    assert.equal(err.kind, 'rejected');
    assert.match(err.message, /belongs to checkpoint cp-wrongcp, not cp-other/);
    assert.equal(csbs.list('p-wrongcp').length, 1);
  });

  test('without a checkpointId the adapter learns it and still deletes only that item', async () => {
    const a = adapterFor('p-nocp');
    const items = csbsItems(3, 'nocp'); // all in checkpoint cp-nocp
    seed('p-nocp', items);
    assert.deepEqual(await a.requestDeletion({ account: 'acc', id: items[1]!.id }, {}), {
      checkpointId: 'cp-nocp',
    });
    assert.deepEqual(
      (csbs.list('p-nocp') as Array<{ id: string; status: string }>).map((b) => `${b.id} ${b.status}`),
      [`${items[0]!.id} available`, `${items[1]!.id} deleting`, `${items[2]!.id} available`],
    );
  });

  test('CSBS.8007 (registered as an image) is "blocked" and the backup stays', async () => {
    const a = adapterFor('p-image');
    const [b] = csbsItems(1, 'image', { sim: { registeredAsImage: true } });
    seed('p-image', [b]);
    const err = await providerRejection(a.requestDeletion(ref('acc', b!), {}));
    assert.equal(err.kind, 'blocked');
    assert.equal(err.info.code, 'CSBS.8007');
    assert.match(err.message, /image/);
    const [listed] = (await a.listBackups(undefined, {})).records;
    assert.deepEqual(listed!.deletable, {
      ok: false,
      reason: 'registered as an image (CSBS.8007); delete the image first',
    });
    assert.equal(csbs.list('p-image').length, 1);
  });

  test('a deletion that ends in status error with fail_op=delete is "failed" with the provider reason and code', async () => {
    const a = adapterFor('p-fail');
    const [b] = csbsItems(1, 'fail', {
      sim: { failDelete: { code: 'CSBS.9999', reason: 'snapshot locked by storage' } },
    });
    seed('p-fail', [b]);
    await a.requestDeletion(ref('acc', b!), {});
    assert.deepEqual(await a.observeDeletion(ref('acc', b!), {}, {}), {
      state: 'pending',
      status: 'deleting',
    });
    clock += 1_000;
    assert.deepEqual(await a.observeDeletion(ref('acc', b!), {}, {}), {
      state: 'failed',
      status: 'error',
      reason: 'snapshot locked by storage',
      code: 'CSBS.9999',
    });
  });

  test('an item in status error from a failed BACKUP is deletable, and not read as a failed deletion', async () => {
    const a = adapterFor('p-errbk');
    const [b] = csbsItems(1, 'errbk', {
      status: 'error',
      extend_info: { fail_op: 'backup', fail_reason: 'disk gone' },
    });
    seed('p-errbk', [b]);
    const [listed] = (await a.listBackups(undefined, {})).records;
    assert.equal(listed!.successful, false);
    assert.deepEqual(listed!.deletable, { ok: true });
    await a.requestDeletion(ref('acc', b!), {});
    assert.deepEqual(await a.observeDeletion(ref('acc', b!), {}, {}), {
      state: 'pending',
      status: 'deleting',
    });
  });

  test('BackupService.4008 (legacy service closed) blocks delete, list and observation for the whole project', async () => {
    const a = adapterFor('p-closed');
    const [b] = csbsItems(1, 'closed');
    seed('p-closed', [b, { sim: { legacyClosed: true } }]);
    const del = await providerRejection(a.requestDeletion(ref('acc', b!), {}));
    assert.equal(del.kind, 'blocked');
    assert.equal(del.info.code, 'BackupService.4008');
    const list = await providerRejection(a.listBackups(undefined, {}));
    assert.equal(list.kind, 'blocked');
    const seen = await a.observeDeletion(ref('acc', b!), {}, {});
    assert.equal(seen.state, 'blocked');
    assert.equal((seen as { code?: string }).code, 'BackupService.4008');
    assert.equal(csbs.list('p-closed').length, 1);
  });

  test('CSBS.9998 / CSBS.9999 (500) and 503 are transient', async () => {
    const a = adapterFor('p-5xx');
    const [b] = csbsItems(1, 'fivexx');
    seed('p-5xx', [b]);
    for (const [status, code] of [
      [500, 'CSBS.9998'],
      [500, 'CSBS.9999'],
      [503, undefined],
    ] as const) {
      sim.setFaults([
        {
          provider: 'csbs',
          method: 'DELETE',
          times: 1,
          fault: {
            kind: 'status',
            status,
            ...(code ? { body: { error_code: code, error_msg: 'internal error' } } : {}),
          },
        },
      ]);
      const err = await providerRejection(a.requestDeletion(ref('acc', b!), {}));
      assert.equal(err.kind, 'transient', `${status} ${code}`);
      assert.equal(err.info.status, status);
      if (code) assert.equal(err.info.code, code);
    }
    assert.equal(sim.ctx.counters.acceptedDeletes.get(`csbs:p-5xx:${b!.id}`), undefined);
    await a.requestDeletion(ref('acc', b!), {}); // the fault is spent: accepted now
  });

  test('429 APIG.0308 / APIGW.0308 throttling is transient with a few seconds delay, or the Retry-After given', async () => {
    const a = adapterFor('p-throttle');
    sim.setFaults([{ provider: 'csbs', method: 'GET', times: 1, fault: { kind: 'status', status: 429 } }]);
    const apig = await providerRejection(a.listBackups(undefined, {}));
    assert.equal(apig.kind, 'transient');
    assert.equal(apig.info.code, 'APIG.0308');
    assert.equal(apig.info.retryAfterMs, APIG_THROTTLE_DELAY_MS);
    sim.setFaults([
      {
        provider: 'csbs',
        method: 'GET',
        times: 1,
        fault: {
          kind: 'status',
          status: 429,
          retryAfter: '9',
          body: { error_code: 'APIGW.0308', error_msg: 'over ratelimit' },
        },
      },
    ]);
    const apigw = await providerRejection(a.listBackups(undefined, {}));
    assert.equal(apigw.info.code, 'APIGW.0308');
    assert.equal(apigw.info.retryAfterMs, 9_000);
    assert.deepEqual((await a.listBackups(undefined, {})).records, []);
  });

  test('malformed answers are "malformed", naming the field', async () => {
    const a = adapterFor('p-malformed');
    const [b] = csbsItems(1, 'malf');
    seed('p-malformed', [b]);
    sim.setFaults([{ provider: 'csbs', method: 'GET', times: 1, fault: { kind: 'malformed' } }]);
    const cut = await providerRejection(a.observeDeletion(ref('acc', b!), {}, {}));
    assert.equal(cut.kind, 'malformed');
    assert.match(cut.message, /expected a JSON body/);

    sim.setFaults([
      {
        provider: 'csbs',
        method: 'GET',
        times: 1,
        fault: {
          kind: 'status',
          status: 200,
          body: { checkpoint_item: { id: b!.id, checkpoint_id: 'cp', status: 7 } },
        },
      },
    ]);
    const status = await providerRejection(a.observeDeletion(ref('acc', b!), {}, {}));
    assert.equal(status.kind, 'malformed');
    assert.match(status.message, /field checkpoint_item\.status/);

    sim.setFaults([
      {
        provider: 'csbs',
        method: 'GET',
        times: 1,
        fault: {
          kind: 'status',
          status: 200,
          body: {
            checkpoint_items: [{ id: 'x', checkpoint_id: 'c', status: 'available', created_at: 'x' }],
          },
        },
      },
    ]);
    const list = await providerRejection(a.listBackups(undefined, {}));
    assert.equal(list.kind, 'malformed');
    assert.match(list.message, /field checkpoint_items\[0\]\.resource_id/);
  });

  test('a wrong endpoint (gateway 404 APIGW.0101) is misconfigured, never read as "gone"', async () => {
    const a = adapterFor('p-route', '/wrong');
    const [b] = csbsItems(1, 'route');
    seed('p-route', [b]);
    const err = await providerRejection(a.observeDeletion(ref('acc', b!), {}, {}));
    assert.equal(err.kind, 'misconfigured');
    assert.equal(err.info.code, 'APIGW.0101');
    assert.match(err.message, /check accounts\.acc\.endpoint \(http:\/\/127\.0\.0\.1:\d+\/csbs\/wrong\)/);
  });

  test('list: marker pagination over 250 items into normalised records (UTC times, server groups, sizes, deletability)', async () => {
    const a = adapterFor('p-list');
    const items = csbsItems(250, 'list');
    items[0]!.status = 'protecting';
    items[1]!.extend_info = { size: 2 };
    items[2]!.tags = [{ key: 'env', value: 'prod' }];
    seed('p-list', items);
    const pages: BackupRecord[][] = [];
    let cursor: string | undefined;
    do {
      const page = await a.listBackups(cursor, {});
      pages.push(page.records);
      cursor = page.next;
      // An item deleted between pages (here: the marker itself) must not break the listing.
      if (pages.length === 1 && cursor) {
        const marker = items.find((b) => b.id === cursor)!;
        await a.requestDeletion(ref('acc', marker), {});
        clock += 1_000 + csbs.deletedVisibleMs;
      }
    } while (cursor);
    assert.deepEqual(
      pages.map((p) => p.length),
      [100, 100, 50],
      'deleting the marker item between pages neither skips nor repeats anything',
    );
    const all = pages.flat();
    assert.equal(new Set(all.map((r) => r.id)).size, 250);
    const byId = new Map(all.map((r) => [r.id, r]));
    const r0 = byId.get(items[0]!.id)!;
    assert.equal(r0.createdAt, '2026-01-01T00:00:00.456Z', 'zone-less time read as UTC');
    assert.equal(r0.group, 'srv-0');
    assert.equal(r0.checkpointId, 'cp-list');
    assert.equal(r0.backupId, items[0]!.id);
    assert.equal(r0.provider, 'csbs');
    assert.equal(r0.account, 'acc');
    assert.equal(r0.successful, false);
    assert.deepEqual(r0.deletable, { ok: false, reason: 'status protecting' });
    const r1 = byId.get(items[1]!.id)!;
    assert.equal(r1.sizeBytes, 2 * 1024 ** 2);
    assert.equal(r1.successful, true);
    assert.deepEqual(r1.deletable, { ok: true });
    assert.equal(r1.group, 'srv-1');
    assert.deepEqual(byId.get(items[2]!.id)!.tags, { env: 'prod' });
  });

  test('one IAM token serves many calls; a revoked token gets exactly one new token', async () => {
    const a = adapterFor('p-token');
    const items = csbsItems(10, 'tok');
    seed('p-token', items);
    const before = tokens();
    for (const b of items) await a.requestDeletion(ref('acc', b), {});
    for (const b of items) await a.observeDeletion(ref('acc', b), {}, {});
    await a.listBackups(undefined, {});
    assert.equal(tokens() - before, 1, 'one token for 21 calls');

    sim.ctx.revokeHuaweiTokens();
    assert.deepEqual(await a.observeDeletion(ref('acc', items[0]!), {}, {}), {
      state: 'pending',
      status: 'deleting',
    });
    await a.listBackups(undefined, {});
    assert.equal(tokens() - before, 2, 'one new token after the 401, reused afterwards');
  });
});

function describeObservation(o: Observation): string {
  return o.state === 'pending' ? o.status : o.state;
}

// ---------------------------------------------------------------------------------------------
describe('CSBS through the workflow (real Temporal dev server)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      { csbs: { provider: 'csbs', limits: { maxConcurrent: 5 } }, closed: { provider: 'csbs' } },
      { sim: { timings: { deleteMs: { csbs: 300 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  test('30 items on an account limited to 5: all deleted, never more than 5 in progress, throttling retried', async () => {
    const project = stack.scope('csbs');
    const items = csbsItems(30, 'wf');
    stack.sim.seed('csbs', project, items);
    stack.sim.setFaults([
      { provider: 'csbs', method: 'DELETE', times: 3, fault: { kind: 'status', status: 429 } },
    ]);
    const account = stack.account('csbs');
    const id = await rc.start({ items: items.map((b) => ref(account, b)), dryRun: false });
    const summary = await rc.result(id);
    stack.sim.setFaults([]);
    assert.deepEqual(summary.counts, { deleted: 30, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    const counters = stack.sim.ctx.counters;
    const max = counters.maxConcurrent(`csbs:${project}`);
    assert.ok(max <= 5, `at most 5 deletions in progress at once, saw ${max}`);
    assert.ok(max >= 2, `deletions did overlap (saw ${max}), so the bound was exercised`);
    for (const b of items) assert.equal(counters.acceptedDeletes.get(`csbs:${project}:${b.id}`), 1, b.id);
    assert.equal(counters.requests.get('csbs DELETE'), 33, 'three throttled deletes were sent again');
    assertNoRepeats(stack.sim, `csbs:${project}:`);
    assert.deepEqual(stack.sim.provider('csbs').list(project), []);
    const outcomes = await reportById(rc, id);
    assert.ok([...outcomes.values()].every((o) => o.outcome === 'deleted' && o.checkpointId === 'cp-wf'));
  });

  test('each answer ends as its outcome: image → blocked, failed delete → failed, unknown → absent, busy → retried', async () => {
    const project = stack.scope('csbs');
    const account = stack.account('csbs');
    const [image] = csbsItems(1, 'mix-image', { sim: { registeredAsImage: true } });
    const [broken] = csbsItems(1, 'mix-fail', {
      sim: { failDelete: { code: 'CSBS.9999', reason: 'storage refused' } },
    });
    const [busy] = csbsItems(1, 'mix-busy', { sim: { busy: 1 } });
    const [plain] = csbsItems(1, 'mix-plain');
    stack.sim.seed('csbs', project, [image, broken, busy, plain]);
    const refs = [image!, broken!, busy!, plain!].map((b) => ref(account, b));
    const id = await rc.start({
      items: [...refs, { account, id: 'never-existed', checkpointId: 'cp-none' }],
      dryRun: false,
    });
    const summary = await rc.result(id);
    assert.deepEqual(summary.counts, { deleted: 2, absent: 1, blocked: 1, failed: 1, skipped: 0 });
    const o = await reportById(rc, id);
    assert.equal(o.get(image!.id)?.outcome, 'blocked');
    assert.equal(o.get(image!.id)?.code, 'CSBS.8007');
    assert.equal(o.get(broken!.id)?.outcome, 'failed');
    assert.equal(o.get(broken!.id)?.code, 'CSBS.9999');
    assert.match(o.get(broken!.id)?.reason ?? '', /storage refused/);
    assert.equal(o.get('never-existed')?.outcome, 'absent');
    assert.equal(o.get(busy!.id)?.outcome, 'deleted');
    assert.equal(o.get(plain!.id)?.outcome, 'deleted');
    assert.equal(
      stack.sim.ctx.counters.deleteCalls.get(`csbs:${project}:${busy!.id}`),
      2,
      'busy once, then accepted',
    );
    assert.equal(stack.sim.ctx.counters.acceptedDeletes.get(`csbs:${project}:${image!.id}`), undefined);
  });

  test('an account whose project may not use the legacy service ends every item blocked with BackupService.4008', async () => {
    const project = stack.scope('closed');
    const account = stack.account('closed');
    const items = csbsItems(3, 'closed');
    stack.sim.seed('csbs', project, items);
    (stack.sim.provider('csbs') as CsbsSim).closeLegacyService(project);
    const id = await rc.start({ items: items.map((b) => ref(account, b)), dryRun: false });
    const summary = await rc.result(id);
    assert.deepEqual(summary.counts, { deleted: 0, absent: 0, blocked: 3, failed: 0, skipped: 0 });
    const o = await reportById(rc, id);
    assert.ok([...o.values()].every((x) => x.code === 'BackupService.4008'));
    assert.equal(stack.sim.provider('csbs').list(project).length, 3);
  });
});

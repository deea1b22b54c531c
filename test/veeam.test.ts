/**
 * Veeam Backup for Microsoft Azure v1: the adapter's contract against the simulator over real HTTP,
 * the classifier, the OAuth2 token life cycle, malformed answers, and one run through the workflows on
 * the real dev server (transient poll errors resume the recorded session instead of posting again).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { HttpClient, type HttpResponse } from '../activities/http';
import { isProviderError, type ProviderErrorKind } from '../activities/provider-error';
import type { Observation, ProviderAdapter } from '../activities/providers/adapter';
import { AdapterRegistry } from '../activities/providers/registry';
import { classifyVeeam, VeeamAdapter, VeeamSession } from '../activities/providers/veeam';
import { Simulator } from '../simulator/server';
import type { VeeamSim, VeeamVm } from '../simulator/veeam';
import type { BackupRecord, ItemOutcome, ItemRef } from '../contract/model';
import { parseWorkerConfig } from '../worker/config';
import { assertNoRepeats } from './helpers/deletes';
import { startStack, TEST_CREDENTIAL_ENV, type Stack } from './helpers/stack';
import { fakeResponse as res, observeToEnd } from './helpers/adapters';

const APPLIANCE = 'appliance-a';
const T0 = Date.UTC(2026, 0, 1);

function vm(id: string, points = 3, extra: Partial<VeeamVm> = {}): VeeamVm {
  return {
    id,
    name: `azure-${id}`,
    restorePoints: Array.from({ length: points }, (_, i) => ({
      id: `${id}-rp-${i}`,
      pointInTime: new Date(T0 + i * 86_400_000).toISOString(),
      backupSizeBytes: 1_000 + i,
      backupDestination: 'AzureBlob',
    })),
    ...extra,
  };
}

async function errorOf(
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

const statuses = (seen: Observation[]) => seen.map((o) => (o.state === 'gone' ? 'gone' : o.status));

const prob = (status: number, title = 'T', detail = 'D') => ({ type: 'about:blank', title, status, detail });

describe('Veeam classifier', () => {
  const cases: Array<[string, HttpResponse, ProviderErrorKind]> = [
    [
      '404 problem+json: no such VM',
      res(404, prob(404, 'Not Found', 'Virtual machine x was not found.')),
      'not-found',
    ],
    ['404 with an empty body: wrong endpoint, not "absent"', res(404), 'misconfigured'],
    ['404 with a non-problem body', res(404, { message: 'route' }), 'misconfigured'],
    ['404 with an HTML body', res(404, '<html><body>Not Found</body></html>'), 'misconfigured'],
    ['409 conflict: another operation on the VM', res(409, prob(409)), 'busy'],
    ['400', res(400, prob(400)), 'rejected'],
    ['401', res(401, prob(401)), 'auth'],
    ['403', res(403, prob(403)), 'auth'],
    ['429', res(429, prob(429)), 'transient'],
    ['500', res(500, prob(500)), 'transient'],
    ['502', res(502, 'Bad Gateway'), 'transient'],
    ['503', res(503, prob(503)), 'transient'],
    ['504', res(504), 'transient'],
  ];
  for (const [name, r, kind] of cases) test(name, () => assert.equal(classifyVeeam(r, 'op').kind, kind));

  test('the problem title and detail make the message; Retry-After is honoured', () => {
    const err = classifyVeeam(
      res(503, prob(503, 'Service Unavailable', 'Appliance is starting'), { 'retry-after': '9' }),
      'op',
    );
    assert.match(err.message, /Service Unavailable: Appliance is starting/);
    assert.equal(err.info.retryAfterMs, 9_000);
  });
});

describe('Veeam adapter against the simulator', () => {
  const sim = new Simulator({ timings: { deleteMs: { veeam: 250 } } });
  let veeam: VeeamSim;
  let registry: AdapterRegistry;
  let adapter: ProviderAdapter;
  const http = new HttpClient({ timeoutMs: 5_000 });
  const item = (id: string): ItemRef => ({ account: 'veeam', id });
  const creds = () => ({
    username: TEST_CREDENTIAL_ENV.RC_TEST_USER,
    password: TEST_CREDENTIAL_ENV.RC_TEST_PASSWORD,
  });
  /** An adapter of its own on its own appliance, with a clock the test moves. */
  const withClock = (appliance: string) => {
    const clock = { now: Date.now() };
    const a = new VeeamAdapter(
      'v',
      new VeeamSession(http, { endpoint: `${sim.url}/veeam/${appliance}` }, creds, () => clock.now),
    );
    return { adapter: a, clock };
  };
  const grants = (appliance: string) =>
    veeam.tokenRequests.filter((t) => t.appliance === appliance).map((t) => `${t.grantType}:${t.outcome}`);

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV);
    await sim.start();
    veeam = sim.provider('veeam') as VeeamSim;
    registry = new AdapterRegistry(
      parseWorkerConfig({
        accounts: {
          veeam: {
            provider: 'veeam',
            endpoint: `${sim.url}/veeam/${APPLIANCE}`,
            credentials: { username: { env: 'RC_TEST_USER' }, password: { env: 'RC_TEST_PASSWORD' } },
            limits: { requestTimeout: '5s' },
          },
        },
      }),
    );
    adapter = registry.get('veeam');
  });
  afterEach(() => {
    sim.setFaults([]);
    veeam.users = undefined;
  });
  after(async () => {
    await registry.close();
    await http.close();
    await sim.stop();
  });

  test('deleteBackups: one BackupDeletion session, its id in the handle, Running → Success → gone', async () => {
    sim.seed('veeam', APPLIANCE, [vm('vm-1'), vm('vm-keep')]);
    const handle = await adapter.requestDeletion(item('vm-1'), {});
    const sessions = veeam.sessions(APPLIANCE).filter((s) => s.vmId === 'vm-1');
    assert.equal(sessions.length, 1);
    assert.deepEqual(handle, { sessionId: sessions[0]!.id });
    const seen = await observeToEnd(adapter, item('vm-1'), handle);
    assert.equal(statuses(seen)[0], 'Running');
    assert.equal(statuses(seen).at(-1), 'gone');
    const left = veeam.list(APPLIANCE) as Array<{ id: string; restorePoints: unknown[] }>;
    assert.equal(
      left.find((v) => v.id === 'vm-1')?.restorePoints.length,
      0,
      'all restore points of vm-1 removed',
    );
    assert.equal(left.find((v) => v.id === 'vm-keep')?.restorePoints.length, 3, 'other VMs untouched');
    assert.equal(sim.ctx.counters.sessionsPerVm.get(`veeam:${APPLIANCE}:vm-1`), 1);
  });

  test('a queued session is Pending first', async () => {
    sim.seed('veeam', APPLIANCE, [vm('vm-pending', 2, { sim: { pendingMs: 300 } })]);
    const handle = await adapter.requestDeletion(item('vm-pending'), {});
    const seen = statuses(await observeToEnd(adapter, item('vm-pending'), handle));
    assert.equal(seen[0], 'Pending');
    assert.ok(seen.includes('Running'));
    assert.equal(seen.at(-1), 'gone');
  });

  test('Warning (RunningWithWarning while running) means deleted, with warnings', async () => {
    const warning =
      'Restore point rp-2 of vm-warn could not be removed from repository repo-eu: blob lease held';
    sim.seed('veeam', APPLIANCE, [vm('vm-warn', 2, { sim: { outcome: 'Warning', warning } })]);
    const handle = await adapter.requestDeletion(item('vm-warn'), {});
    const observations = await observeToEnd(adapter, item('vm-warn'), handle);
    const seen = statuses(observations);
    assert.equal(seen[0], 'RunningWithWarning');
    assert.equal(seen.at(-1), 'gone');
    // The warning text from the session log is kept for the item's reason (issue 13 item 3).
    const last = observations.at(-1) as { note?: string };
    assert.ok(
      last.note?.startsWith(`session ${handle.sessionId} ended Warning: ${warning}`),
      `the warning line of the session log is in the note: ${last.note}`,
    );
  });

  for (const [outcome, running] of [
    ['Error', 'RunningWithError'],
    ['Canceled', 'Canceling'],
    ['NeverExecuted', 'Pending'],
  ] as const) {
    test(`${outcome} ends failed with the session's status as code; restore points stay`, async () => {
      const id = `vm-${outcome.toLowerCase()}`;
      sim.seed('veeam', APPLIANCE, [vm(id, 2, { sim: { outcome } })]);
      const handle = await adapter.requestDeletion(item(id), {});
      const seen = await observeToEnd(adapter, item(id), handle);
      assert.equal(statuses(seen)[0], running);
      const last = seen.at(-1)!;
      assert.equal(last.state, 'failed');
      assert.equal(last.state === 'failed' && last.code, outcome);
      assert.match(
        last.state === 'failed' ? last.reason : '',
        new RegExp(`${handle.sessionId}.*ended ${outcome}.*jobSessions/.*/log`),
      );
      const left = veeam.list(APPLIANCE) as Array<{ id: string; restorePoints: unknown[] }>;
      assert.equal(left.find((v) => v.id === id)?.restorePoints.length, 2);
    });
  }

  test('the simulator plays the quirk: a second deleteBackups starts a second session', async () => {
    sim.seed('veeam', APPLIANCE, [vm('vm-twice')]);
    const first = await adapter.requestDeletion(item('vm-twice'), {});
    const second = await adapter.requestDeletion(item('vm-twice'), {});
    assert.notEqual(first.sessionId, second.sessionId);
    assert.equal(sim.ctx.counters.sessionsPerVm.get(`veeam:${APPLIANCE}:vm-twice`), 2);
    assert.equal(statuses(await observeToEnd(adapter, item('vm-twice'), first)).at(-1), 'gone');
  });

  test('an unknown VM: 404 problem+json → not-found', async () => {
    const err = await errorOf(adapter.requestDeletion(item('vm-nope'), {}));
    assert.equal(err.kind, 'not-found');
    assert.match(err.message, /vm-nope was not found/);
    assert.equal(sim.ctx.counters.sessionsPerVm.get(`veeam:${APPLIANCE}:vm-nope`), undefined);
  });

  test('a known VM with no restore points left still gets a session that succeeds', async () => {
    sim.seed('veeam', APPLIANCE, [vm('vm-empty', 0)]);
    const handle = await adapter.requestDeletion(item('vm-empty'), {});
    assert.equal(statuses(await observeToEnd(adapter, item('vm-empty'), handle)).at(-1), 'gone');
  });

  test('a session the appliance does not know ends failed (never "deleted" without proof)', async () => {
    const o = await adapter.observeDeletion(
      item('vm-1'),
      { sessionId: '00000000-0000-0000-0000-000000000000' },
      {},
    );
    assert.equal(o.state, 'failed');
    assert.equal(o.state === 'failed' && o.code, 'SessionNotFound');
    const noHandle = await errorOf(adapter.observeDeletion(item('vm-1'), {}, {}));
    assert.equal(noHandle.kind, 'rejected');
  });

  for (const status of [500, 502, 503, 504, 429]) {
    test(`HTTP ${status} on deleteBackups and on the session poll is transient (Retry-After honoured)`, async () => {
      const id = `vm-t${status}`;
      sim.seed('veeam', APPLIANCE, [vm(id)]);
      sim.setFaults([
        {
          provider: 'veeam',
          method: 'POST',
          path: `/virtualMachines/${id}/`,
          times: 1,
          fault: { kind: 'status', status, retryAfter: '3' },
        },
      ]);
      const post = await errorOf(adapter.requestDeletion(item(id), {}));
      assert.equal(post.kind, 'transient');
      assert.equal(post.retryAfterMs, 3_000);
      assert.equal(
        sim.ctx.counters.sessionsPerVm.get(`veeam:${APPLIANCE}:${id}`),
        undefined,
        'no session was started',
      );
      const handle = await adapter.requestDeletion(item(id), {});
      sim.setFaults([
        {
          provider: 'veeam',
          method: 'GET',
          path: `/jobSessions/${handle.sessionId}$`,
          times: 1,
          fault: { kind: 'status', status },
        },
      ]);
      assert.equal((await errorOf(adapter.observeDeletion(item(id), handle, {}))).kind, 'transient');
      assert.equal(statuses(await observeToEnd(adapter, item(id), handle)).at(-1), 'gone');
    });
  }

  test('409 is busy, 400 is rejected', async () => {
    sim.seed('veeam', APPLIANCE, [vm('vm-409')]);
    sim.setFaults([{ provider: 'veeam', method: 'POST', times: 1, fault: { kind: 'status', status: 409 } }]);
    assert.equal((await errorOf(adapter.requestDeletion(item('vm-409'), {}))).kind, 'busy');
    sim.setFaults([{ provider: 'veeam', method: 'POST', times: 1, fault: { kind: 'status', status: 400 } }]);
    assert.equal((await errorOf(adapter.requestDeletion(item('vm-409'), {}))).kind, 'rejected');
  });

  describe('tokens', () => {
    test('one form-encoded password grant, then the Bearer token is reused', async () => {
      const appliance = 'appliance-tok';
      const { adapter: a } = withClock(appliance);
      sim.seed('veeam', appliance, [vm('vm-t1'), vm('vm-t2')]);
      await a.listBackups(undefined, {});
      const h = await a.requestDeletion(item('vm-t1'), {});
      await a.observeDeletion(item('vm-t1'), h, {});
      await a.listBackups(undefined, {});
      assert.deepEqual(grants(appliance), ['Password:200']);
      const t = veeam.tokenRequests.find((r) => r.appliance === appliance)!;
      assert.match(t.contentType ?? '', /^application\/x-www-form-urlencoded/);
      assert.equal(sim.ctx.counters.tokensIssued.get(`veeam:${appliance}:Password`), 1);
    });

    test('the token is renewed with the refresh token before it expires', async () => {
      const appliance = 'appliance-refresh';
      const { adapter: a, clock } = withClock(appliance);
      sim.seed('veeam', appliance, [vm('vm-r')]);
      await a.listBackups(undefined, {});
      clock.now += 50 * 60_000; // 50 of 60 minutes: not yet
      await a.listBackups(undefined, {});
      assert.deepEqual(grants(appliance), ['Password:200']);
      clock.now += 6 * 60_000; // 56 minutes: within the early-renewal window, still valid at the appliance
      const page = await a.listBackups(undefined, {});
      assert.equal(page.records.length, 3);
      assert.deepEqual(grants(appliance), ['Password:200', 'Refresh_token:200']);
      assert.equal(sim.ctx.counters.tokensIssued.get(`veeam:${appliance}:Refresh_token`), 1);
    });

    test('a 401 renews the token with the refresh grant and repeats the call once', async () => {
      const appliance = 'appliance-401';
      const { adapter: a } = withClock(appliance);
      sim.seed('veeam', appliance, [vm('vm-401')]);
      await a.listBackups(undefined, {});
      veeam.revokeAccessTokens(appliance);
      const handle = await a.requestDeletion(item('vm-401'), {});
      assert.ok(handle.sessionId);
      assert.deepEqual(grants(appliance), ['Password:200', 'Refresh_token:200']);
      assert.equal(
        sim.ctx.counters.sessionsPerVm.get(`veeam:${appliance}:vm-401`),
        1,
        'the refused POST started nothing',
      );
    });

    test('a refused refresh token falls back to the password grant', async () => {
      const appliance = 'appliance-relogin';
      const { adapter: a, clock } = withClock(appliance);
      sim.seed('veeam', appliance, [vm('vm-x')]);
      await a.listBackups(undefined, {});
      veeam.revokeAllTokens(appliance);
      await a.listBackups(undefined, {});
      assert.deepEqual(grants(appliance), ['Password:200', 'Refresh_token:400', 'Password:200']);
      // Same path when the renewal is due by the clock rather than by a 401.
      veeam.revokeAllTokens(appliance);
      clock.now += 59 * 60_000;
      await a.listBackups(undefined, {});
      assert.deepEqual(grants(appliance), [
        'Password:200',
        'Refresh_token:400',
        'Password:200',
        'Refresh_token:400',
        'Password:200',
      ]);
    });

    test('a wrong password is an auth error that says what to check', async () => {
      const appliance = 'appliance-badpw';
      const { adapter: a } = withClock(appliance);
      veeam.users = { [TEST_CREDENTIAL_ENV.RC_TEST_USER]: 'another-password' };
      const err = await errorOf(a.requestDeletion(item('vm-any'), {}));
      assert.equal(err.kind, 'auth');
      assert.match(err.message, /check the account's username and password/);
      assert.ok(
        !err.message.includes(TEST_CREDENTIAL_ENV.RC_TEST_PASSWORD),
        'the password is not in the message',
      );
    });
  });

  describe('list restore points', () => {
    test('v1: no virtualMachineId, the VM read from _links; one page (v1 ignores paging)', async () => {
      const appliance = 'appliance-v1';
      const { adapter: a } = withClock(appliance);
      sim.seed('veeam', appliance, [vm('vm-a', 3), vm('vm-b', 2)]);
      const page = await a.listBackups(undefined, {});
      assert.equal(page.next, undefined);
      const byPoint = new Map(page.records.map((r) => [r.backupId, r]));
      assert.equal(byPoint.size, 5);
      const r: BackupRecord = byPoint.get('vm-a-rp-2')!;
      assert.equal(r.id, 'vm-a');
      assert.equal(r.group, 'vm-a');
      assert.equal(r.provider, 'veeam');
      assert.equal(r.createdAt, new Date(T0 + 2 * 86_400_000).toISOString());
      assert.equal(r.sizeBytes, 1_002);
      assert.equal(r.successful, true);
      assert.deepEqual(r.deletable, { ok: true });
      assert.equal(byPoint.get('vm-b-rp-0')?.id, 'vm-b');
    });

    test('later versions: virtualMachineId and Offset/Limit paging', async () => {
      const appliance = 'appliance-later';
      const { adapter: a } = withClock(appliance);
      veeam.configure(appliance, { version: 'later', vmLinks: false });
      sim.seed(
        'veeam',
        appliance,
        Array.from({ length: 9 }, (_, i) => vm(`vm-${i}`, 50)),
      );
      const records: BackupRecord[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const p = await a.listBackups(cursor, {});
        records.push(...p.records);
        cursor = p.next;
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.equal(records.length, 450);
      assert.equal(new Set(records.map((r) => r.backupId)).size, 450);
      assert.ok(
        records.every((r) => r.backupId.startsWith(`${r.id}-rp-`)),
        'each point grouped under its own VM',
      );
    });

    test('v1 without any VM link: malformed, naming the field', async () => {
      const appliance = 'appliance-nolink';
      const { adapter: a } = withClock(appliance);
      veeam.configure(appliance, { vmLinks: false });
      sim.seed('veeam', appliance, [vm('vm-a', 1)]);
      const err = await errorOf(a.listBackups(undefined, {}));
      assert.equal(err.kind, 'malformed');
      assert.match(err.message, /field results\[0\]\.virtualMachineId/);
    });
  });

  test('malformed answers are `malformed` and name the field', async () => {
    sim.seed('veeam', APPLIANCE, [vm('vm-m')]);
    const postFault = (body: unknown) =>
      sim.setFaults([
        {
          provider: 'veeam',
          method: 'POST',
          path: '/deleteBackups$',
          times: 1,
          fault: { kind: 'status', status: 200, body },
        },
      ]);
    postFault({ id: 5, type: 'BackupDeletion', status: 'Running' });
    assert.match((await errorOf(adapter.requestDeletion(item('vm-m'), {}))).message, /field id/);

    const handle = await adapter.requestDeletion(item('vm-m'), {});
    const getFault = (fault: unknown) =>
      sim.setFaults([
        { provider: 'veeam', method: 'GET', path: '/jobSessions/', times: 1, fault: fault as never },
      ]);
    getFault({ kind: 'malformed' });
    const cut = await errorOf(adapter.observeDeletion(item('vm-m'), handle, {}));
    assert.equal(cut.kind, 'malformed');
    assert.match(cut.message, /expected a JSON body/);
    getFault({
      kind: 'status',
      status: 200,
      body: { id: handle.sessionId, type: 'BackupDeletion', status: 'Exploded' },
    });
    assert.match((await errorOf(adapter.observeDeletion(item('vm-m'), handle, {}))).message, /field status/);
    getFault({
      kind: 'status',
      status: 200,
      body: { id: 'another-session', type: 'BackupDeletion', status: 'Success' },
    });
    assert.match(
      (await errorOf(adapter.observeDeletion(item('vm-m'), handle, {}))).message,
      /field id: expected/,
    );

    sim.setFaults([
      {
        provider: 'veeam',
        method: 'GET',
        path: '/restorePoints$',
        times: 1,
        fault: {
          kind: 'status',
          status: 200,
          body: {
            offset: 0,
            totalCount: 1,
            results: [{ pointInTime: 'last tuesday', virtualMachineId: 'vm' }],
          },
        },
      },
    ]);
    assert.match((await errorOf(adapter.listBackups(undefined, {}))).message, /field results\[0\]\.id/);
    sim.setFaults([
      {
        provider: 'veeam',
        method: 'GET',
        path: '/restorePoints$',
        times: 1,
        fault: { kind: 'status', status: 200, body: { offset: 0, results: [] } },
      },
    ]);
    assert.match((await errorOf(adapter.listBackups(undefined, {}))).message, /field totalCount/);
  });

  test('a token answer without access_token is malformed, naming the field', async () => {
    const { adapter: a } = withClock('appliance-badtoken');
    sim.setFaults([
      {
        provider: 'veeam',
        path: '/oauth2/token$',
        times: 1,
        fault: { kind: 'status', status: 200, body: { token_type: 'bearer', expires_in: 3600 } },
      },
    ]);
    const err = await errorOf(a.listBackups(undefined, {}));
    assert.equal(err.kind, 'malformed');
    assert.match(err.message, /field access_token/);
  });
});

describe('Veeam through the workflows (real dev server)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      { veeam: { provider: 'veeam' } },
      { sim: { timings: { deleteMs: { veeam: 400 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  test('outcomes per session status; failed polls resume the recorded session, never a second POST', async () => {
    const scope = stack.scope('veeam');
    const account = stack.account('veeam');
    const vms = [
      vm('vm-ok-1'),
      vm('vm-ok-2'),
      vm('vm-warn', 2, { sim: { outcome: 'Warning' } }),
      vm('vm-err', 2, { sim: { outcome: 'Error' } }),
    ];
    stack.sim.seed('veeam', scope, vms);
    // Every first poll of a session fails (and some later ones): each retried attempt must resume it.
    stack.sim.setFaults([
      {
        provider: 'veeam',
        method: 'GET',
        path: '/jobSessions/',
        times: 4,
        fault: { kind: 'status', status: 503 },
      },
      { provider: 'veeam', method: 'GET', path: '/jobSessions/', rate: 0.3, fault: { kind: 'reset' } },
    ]);
    const ids = [...vms.map((v) => v.id), 'vm-unknown'];
    const id = await rc.start({ items: ids.map((i) => ({ account, id: i })), dryRun: false });
    const summary = await rc.result(id);
    const pollFailures = (stack.sim.faults.list()[0] as { hits?: number }).hits;
    stack.sim.setFaults([]);
    assert.equal(pollFailures, 4, 'four polls failed, so attempts were retried');
    const outcomes = new Map<string, ItemOutcome>();
    for await (const o of rc.report(id)) outcomes.set(o.id, o);
    assert.deepEqual(Object.fromEntries([...outcomes].map(([k, o]) => [k, o.outcome])), {
      'vm-ok-1': 'deleted',
      'vm-ok-2': 'deleted',
      'vm-warn': 'deleted',
      'vm-err': 'failed',
      'vm-unknown': 'absent',
    });
    assert.deepEqual(summary.counts, { deleted: 3, absent: 1, blocked: 0, failed: 1, skipped: 0 });
    assert.equal(outcomes.get('vm-err')?.code, 'Error');
    assert.match(
      outcomes.get('vm-warn')!.reason,
      // Its log is read for the warning text; a log read lost to the injected resets says where to look.
      /provider confirmed the deletion; session \S+ ended Warning/,
    );
    for (const v of vms) {
      assert.equal(
        stack.sim.ctx.counters.sessionsPerVm.get(`veeam:${scope}:${v.id}`),
        1,
        `exactly one deletion session for ${v.id}`,
      );
    }
    assertNoRepeats(stack.sim, `veeam:${scope}:`);
    const left = stack.sim.provider('veeam').list(scope) as Array<{ id: string; restorePoints: unknown[] }>;
    assert.deepEqual(
      left.map((v) => [v.id, v.restorePoints.length]),
      [
        ['vm-ok-1', 0],
        ['vm-ok-2', 0],
        ['vm-warn', 0],
        ['vm-err', 2],
      ],
    );
  });
});

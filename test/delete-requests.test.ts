/**
 * The simulator counts every delete request per backup, by answer, and every request after the first
 * acceptance as a repeat (simulator/delete-requests.ts), for all five providers over real HTTP: the
 * counter the "accepted once" assertions of the end-to-end tests rely on to see a repeated delete that
 * a provider answered busy or 404.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { CSBS_PROVIDER_ID } from '../simulator/csbs';
import { Simulator } from '../simulator/server';
import { assertNoRepeats, deleteRequests, repeatsOf } from './helpers/deletes';
import { waitFor } from './helpers/runs';

const T0 = Date.UTC(2026, 0, 1);
const PROJECT = 'p-dr';

interface Provider {
  name: 'vbs' | 'csbs' | 'taurusdb' | 'jsa' | 'veeam';
  scope: string;
  id: string;
  seed: unknown[];
  /** Sends one delete request for the backup; returns the status. */
  del(id: string): Promise<number>;
}

describe('simulator: delete requests per backup', () => {
  const sim = new Simulator({
    timings: { deleteMs: { vbs: 60_000, csbs: 60_000, taurusdb: 60_000, jsa: 60_000, veeam: 60_000 } },
  });
  let huaweiToken = '';
  let veeamToken = '';

  async function send(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
    const r = await fetch(`${sim.url}${path}`, { method, headers, body });
    await r.arrayBuffer();
    return r.status;
  }

  const providers: Provider[] = [
    {
      name: 'vbs',
      scope: PROJECT,
      id: 'v1',
      seed: [{ id: 'v1', status: 'available', volume_id: 'vol', created_at: '2026-01-01T00:00:00' }],
      del: (id) => send('DELETE', `/vbs/v3/${PROJECT}/backups/${id}`, { 'X-Auth-Token': huaweiToken }),
    },
    {
      name: 'taurusdb',
      scope: PROJECT,
      id: 't1',
      seed: [{ id: 't1', instance_id: 'i1', begin_time: '2026-01-01T00:00:00+0000' }],
      del: (id) => send('DELETE', `/taurusdb/v3/${PROJECT}/backups/${id}`, { 'X-Auth-Token': huaweiToken }),
    },
    {
      name: 'csbs',
      scope: PROJECT,
      id: 'c1',
      seed: [
        { id: 'c1', checkpoint_id: 'cp1', resource_id: 'srv', created_at: '2026-01-01T00:00:00.000000' },
      ],
      del: (id) =>
        send(
          'DELETE',
          `/csbs/v1/${PROJECT}/providers/${CSBS_PROVIDER_ID}/checkpoints/cp1?checkpoint_items=${id}`,
          { 'X-Auth-Token': huaweiToken },
        ),
    },
    {
      name: 'jsa',
      scope: 'console-dr',
      id: '7',
      seed: [{ id: 7, status: 'SUCCESS', type: 'CONFIG', host_id: 53, time_initiated: T0 }],
      del: (id) =>
        send('DELETE', `/jsa/console-dr/api/backup_and_restore/backups/${id}`, { SEC: 'sec-token' }),
    },
    {
      name: 'veeam',
      scope: 'vbr-dr',
      id: 'vm-1',
      seed: [{ id: 'vm-1', restorePoints: [{ id: 'rp-1', pointInTime: '2026-01-01T00:00:00Z' }] }],
      del: (id) =>
        send('POST', `/veeam/vbr-dr/api/v1/virtualMachines/${id}/deleteBackups`, {
          Authorization: `Bearer ${veeamToken}`,
        }),
    },
  ];

  before(async () => {
    await sim.start();
  });
  after(() => sim.stop());

  beforeEach(async () => {
    await send('POST', '/_admin/reset');
    for (const p of providers) sim.seed(p.name, p.scope, p.seed);
    const iam = await fetch(`${sim.url}/iam/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'u', password: 'p', domain: { name: 'd' } } },
          },
          scope: { project: { id: PROJECT } },
        },
      }),
    });
    huaweiToken = iam.headers.get('x-subject-token') ?? '';
    const veeam = await fetch(`${sim.url}/veeam/vbr-dr/api/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=Password&Username=u&Password=p',
    });
    veeamToken = ((await veeam.json()) as { access_token: string }).access_token;
  });

  for (const p of providers) {
    test(`${p.name}: one accepted delete is not a repeat; a second request after it is, whatever its answer`, async () => {
      const key = `${p.name}:${p.scope}:${p.id}`;
      const first = await p.del(p.id);
      assert.ok(first >= 200 && first < 300, `first delete accepted (got ${first})`);
      assertNoRepeats(sim, key);
      assert.equal(deleteRequests(sim, key)[key]?.accepted, 1);

      const second = await p.del(p.id);
      const c = deleteRequests(sim, key)[key]!;
      assert.equal(c.total, 2);
      assert.equal(c.afterAcceptance, 1, `second request (answered ${second}) counted as a repeat`);
      // Veeam starts a new session for every POST; the Huawei providers and JSA refuse while it runs.
      if (p.name === 'veeam') assert.equal(c.accepted, 2);
      else assert.equal(c.busyAfterAcceptance, 1, `answered ${second}: busy`);
      assert.deepEqual(repeatsOf(sim, key), { [key]: 1 });
    });
  }

  test('a 404 after the deletion finished is a repeat; a 404 for a backup never accepted is not', async () => {
    sim.setTimings({ deleteMs: { vbs: 20 } });
    const vbs = providers[0]!;
    const key = `vbs:${PROJECT}:v1`;
    assert.equal(await vbs.del('v1'), 202);
    // Wait for the deletion to finish as the provider reports it (the backup disappears), not a sleep.
    await waitFor(
      'the backup to disappear',
      async () =>
        (await send('GET', `/vbs/v3/${PROJECT}/backups/v1`, { 'X-Auth-Token': huaweiToken })) === 404,
      5_000,
    );
    assert.equal(await vbs.del('v1'), 404);
    assert.equal(deleteRequests(sim, key)[key]!.notFoundAfterAcceptance, 1);

    assert.equal(await vbs.del('never-there'), 404);
    const other = deleteRequests(sim, `vbs:${PROJECT}:never-there`)[`vbs:${PROJECT}:never-there`]!;
    assert.equal(other.notFound, 1);
    assert.equal(other.afterAcceptance, 0);
  });

  test('injected faults and authentication refusals are counted; before acceptance they are not repeats', async () => {
    const vbs = providers[0]!;
    const key = `vbs:${PROJECT}:v1`;
    sim.setFaults([{ provider: 'vbs', method: 'DELETE', times: 1, fault: { kind: 'status', status: 503 } }]);
    assert.equal(await vbs.del('v1'), 503);
    assert.equal(await send('DELETE', `/vbs/v3/${PROJECT}/backups/v1`, { 'X-Auth-Token': 'wrong' }), 401);
    assert.deepEqual(
      { ...deleteRequests(sim, key)[key], total: undefined },
      {
        total: undefined,
        accepted: 0,
        busy: 0,
        notFound: 0,
        refused: 1,
        faults: 1,
        afterAcceptance: 0,
        notFoundAfterAcceptance: 0,
        busyAfterAcceptance: 0,
      },
    );
    assert.equal(await vbs.del('v1'), 202);
    sim.setFaults([{ provider: 'vbs', method: 'DELETE', times: 1, fault: { kind: 'reset' } }]);
    await assert.rejects(vbs.del('v1'));
    assert.equal(
      deleteRequests(sim, key)[key]!.afterAcceptance,
      1,
      'a request reset after acceptance is still a repeat',
    );
  });

  test('the admin API reports delete requests and repeats', async () => {
    const jsa = providers[3]!;
    await jsa.del('7');
    await jsa.del('7');
    const r = await fetch(`${sim.url}/_admin/delete-requests`);
    const body = (await r.json()) as {
      deleteRequests: Record<string, { accepted: number }>;
      repeats: Record<string, number>;
    };
    assert.equal(body.deleteRequests['jsa:console-dr:7']?.accepted, 1);
    assert.deepEqual(body.repeats, { 'jsa:console-dr:7': 1 });
    const counters = (await (await fetch(`${sim.url}/_admin/counters`)).json()) as {
      deleteRequests: Record<string, unknown>;
    };
    assert.ok(counters.deleteRequests['jsa:console-dr:7'], 'counters include deleteRequests');
  });
});

/**
 * Huawei VBS: the adapter's contract against the simulator over real HTTP (providers.md §3), with the
 * simulator's clock under the test's control: a deletion's life (202, `deleting`, 404 itemNotFound),
 * the refusals (used for an image, dependent incrementals: blocked; another operation: busy), a
 * missing backup, a deletion that ends `error_deleting`, a 404 without the itemNotFound marker (a wrong
 * endpoint: misconfigured, never "gone"), a malformed answer naming the field, and the listing's
 * pagination. Every delete here is sent once: the simulator's delete-request counters say so.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { HttpClient } from '../activities/http';
import { VbsAdapter, vbsAdapterFactory } from '../activities/providers/vbs';
import { Simulator } from '../simulator/server';
import { deleteRequests, repeatsOf } from './helpers/deletes';
import { TEST_CREDENTIAL_ENV, vbsBackups } from './helpers/stack';
import { huaweiAdapterFor, providerRejection } from './helpers/adapters';

describe('VBS adapter against the simulator (contract)', () => {
  let sim: Simulator;
  let clock = Date.now();
  const clients: HttpClient[] = [];
  /** An adapter for `project` built the way the worker's registry builds it. */
  const adapterFor = (project: string, endpointSuffix = '') =>
    huaweiAdapterFor<VbsAdapter>(sim.url, 'vbs', vbsAdapterFactory, clients, project, endpointSuffix);

  const item = (id: string) => ({ account: 'acc', id });
  const counts = (project: string, id: string) =>
    deleteRequests(sim, `vbs:${project}:${id}`)[`vbs:${project}:${id}`];

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV);
    sim = new Simulator({ timings: { deleteMs: { vbs: 1_000 } } });
    await sim.start();
    clock = Date.now();
    sim.ctx.now = () => clock;
  });
  afterEach(() => sim.setFaults([]));
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.stop();
  });

  test('a deletion: 202, observed `deleting`, then gone (404 itemNotFound); one delete request', async () => {
    const a = adapterFor('p-life');
    const [b] = vbsBackups(1, 'life');
    sim.seed('vbs', 'p-life', [b]);
    const handle = await a.requestDeletion(item(b!.id), {});
    assert.deepEqual(await a.observeDeletion(item(b!.id), handle, {}), {
      state: 'pending',
      status: 'deleting',
    });
    clock += 1_000;
    assert.deepEqual(await a.observeDeletion(item(b!.id), handle, {}), { state: 'gone' });
    assert.deepEqual(counts('p-life', b!.id), {
      total: 1,
      accepted: 1,
      busy: 0,
      notFound: 0,
      refused: 0,
      faults: 0,
      afterAcceptance: 0,
      notFoundAfterAcceptance: 0,
      busyAfterAcceptance: 0,
    });
  });

  test('used for an image or with dependent incrementals: blocked; another operation running: busy', async () => {
    const a = adapterFor('p-refuse');
    const [image] = vbsBackups(1, 'image', { sim: { usedForImage: true } });
    const [parent] = vbsBackups(1, 'parent', { has_dependent_backups: true });
    const [creating] = vbsBackups(1, 'creating', { status: 'creating' });
    sim.seed('vbs', 'p-refuse', [image, parent, creating]);
    const img = await providerRejection(a.requestDeletion(item(image!.id), {}));
    assert.equal(img.kind, 'blocked', img.message);
    assert.match(img.message, /image/);
    assert.equal((await providerRejection(a.requestDeletion(item(parent!.id), {}))).kind, 'blocked');
    const busy = await providerRejection(a.requestDeletion(item(creating!.id), {}));
    assert.equal(busy.kind, 'busy', busy.message);
    assert.equal(counts('p-refuse', creating!.id)?.busy, 1);
    assert.equal(counts('p-refuse', image!.id)?.refused, 1);
  });

  test('a missing backup is not-found (itemNotFound), never reported deleted', async () => {
    const a = adapterFor('p-missing');
    const err = await providerRejection(a.requestDeletion(item('nope'), {}));
    assert.equal(err.kind, 'not-found');
    assert.equal(counts('p-missing', 'nope')?.notFound, 1);
  });

  test('a deletion that ends error_deleting is failed, with the fail reason', async () => {
    const a = adapterFor('p-fail');
    const [b] = vbsBackups(1, 'fail', { sim: { failDelete: true } });
    sim.seed('vbs', 'p-fail', [b]);
    const handle = await a.requestDeletion(item(b!.id), {});
    clock += 1_000;
    const o = await a.observeDeletion(item(b!.id), handle, {});
    assert.equal(o.state, 'failed');
    assert.equal(o.state === 'failed' && o.code, 'error_deleting');
    assert.match(o.state === 'failed' ? o.reason : '', /Simulated backend failure/);
  });

  test('a 404 without the itemNotFound marker (a wrong endpoint) is misconfigured, never gone', async () => {
    const a = adapterFor('p-typo', '-typo');
    const [b] = vbsBackups(1, 'typo');
    sim.seed('vbs', 'p-typo', [b]);
    const del = await providerRejection(a.requestDeletion(item(b!.id), {}));
    assert.equal(del.kind, 'misconfigured', del.message);
    const obs = await providerRejection(a.observeDeletion(item(b!.id), {}, {}));
    assert.equal(obs.kind, 'misconfigured', obs.message);
    assert.equal(sim.provider('vbs').list('p-typo').length, 1, 'the backup is untouched');
  });

  test('a malformed answer is `malformed` and names the field', async () => {
    const a = adapterFor('p-malformed');
    const [b] = vbsBackups(1, 'mal');
    sim.seed('vbs', 'p-malformed', [b]);
    sim.setFaults([
      {
        provider: 'vbs',
        method: 'GET',
        times: 1,
        fault: { kind: 'malformed', raw: JSON.stringify({ backup: { id: b!.id } }) },
      },
    ]);
    const err = await providerRejection(a.observeDeletion(item(b!.id), {}, {}));
    assert.equal(err.kind, 'malformed');
    assert.match(err.message, /backup\.status/);
  });

  test('the listing follows backups_links over pages, each backup once', async () => {
    const a = adapterFor('p-list');
    const backups = vbsBackups(250, 'list');
    sim.seed('vbs', 'p-list', backups);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await a.listBackups(cursor, {});
      seen.push(...page.records.map((r) => r.id));
      cursor = page.next;
      pages++;
    } while (cursor !== undefined && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual([...seen].sort(), backups.map((b) => b.id).sort());
    assert.deepEqual(repeatsOf(sim), {}, 'no test here sent a delete twice');
  });
});

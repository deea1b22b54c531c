/**
 * Sizes from each provider's listing shape, read through the worker's adapters over real HTTP from
 * the simulators (no Temporal): each provider gives its size in its own unit (VBS GB, CSBS MB in
 * extend_info, TaurusDB KB, JSA and Veeam bytes), and every record carries exact bytes. A listing
 * without a size leaves `sizeBytes` out: unknown stays unknown, never 0 (issue 19), so byte totals
 * count such backups apart instead of under-reporting what a run frees.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { listChecked } from '../activities/listing';
import { AdapterRegistry } from '../activities/providers/registry';
import { totalOfSizes } from '../insight/bytes';
import { Simulator } from '../simulator/server';
import { accountLimits, parseWorkerConfig } from '../worker/config';
import type { BackupRecord } from '../contract/model';
import { TEST_CREDENTIAL_ENV, configFor, csbsItems } from './helpers/stack';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const T0 = Date.UTC(2026, 0, 1);

describe('sizes in every provider listing', () => {
  const sim = new Simulator();
  let adapters: AdapterRegistry;
  let list: (account: string) => Promise<Map<string, BackupRecord>>;

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV);
    await sim.start();
    const accounts = {
      vbs: { provider: 'vbs' as const, scope: 'p-vbs' },
      csbs: { provider: 'csbs' as const, scope: 'p-csbs' },
      taurusdb: { provider: 'taurusdb' as const, scope: 'p-taurus' },
      jsa: { provider: 'jsa' as const, scope: 'c-jsa' },
      veeam: { provider: 'veeam' as const, scope: 'a-veeam' },
    };
    const loaded = parseWorkerConfig(
      configFor(sim.url, accounts, (n) => n),
      'sizes test',
    );
    adapters = new AdapterRegistry(loaded);
    list = async (name) => {
      const limits = accountLimits(name, loaded.config.accounts[name]!);
      const records = await listChecked(adapters.get(name), limits, { sleep: (ms) => sleep(ms) });
      return new Map(records.map((r) => [r.backupId, r]));
    };
  });
  after(async () => {
    await adapters.close();
    await sim.stop();
  });

  test('VBS: size in GB; a backup listed with size null has no size, not 0', async () => {
    const at = (i: number) => new Date(T0 + i * 3_600_000).toISOString().replace('Z', '');
    sim.seed('vbs', 'p-vbs', [
      { id: 'v-0', status: 'available', volume_id: 'vol', created_at: at(0), size: 40 },
      { id: 'v-1', status: 'available', volume_id: 'vol', created_at: at(1), size: null },
      { id: 'v-2', status: 'available', volume_id: 'vol', created_at: at(2), size: 0 },
    ]);
    const byId = await list('vbs');
    assert.equal(byId.get('v-0')!.sizeBytes, 40 * GiB);
    assert.equal(byId.get('v-1')!.sizeBytes, undefined);
    assert.ok(!('sizeBytes' in byId.get('v-1')!), 'no sizeBytes field at all');
    assert.equal(byId.get('v-2')!.sizeBytes, 0, 'a size of 0 the provider gives stays a known 0');
    assert.deepEqual(
      totalOfSizes([...byId.values()].map((r) => r.sizeBytes)),
      { count: 3, bytes: 40 * GiB, unsized: 1 },
      'the total counts the unsized backup apart',
    );
  });

  test('CSBS: extend_info.size in MB; an item without it has no size', async () => {
    const [a, b] = csbsItems(2, 'sz');
    sim.seed('csbs', 'p-csbs', [
      { ...a!, status: 'available', extend_info: { size: 2048 } },
      { ...b!, status: 'available', extend_info: { size: null } },
    ]);
    const byId = await list('csbs');
    assert.equal(byId.get(a!.id)!.sizeBytes, 2 * GiB);
    assert.equal(byId.get(b!.id)!.sizeBytes, undefined);
  });

  test('TaurusDB: size in KB (fractional), to whole bytes', async () => {
    sim.seed('taurusdb', 'p-taurus', [
      { id: 't-0', begin_time: '2026-01-01T08:00:00+0800', instance_id: 'inst-1', size: 1536.5 },
      { id: 't-1', begin_time: '2026-01-01T09:00:00+0800', instance_id: 'inst-1', size: 3 * 1024 * 1024 },
    ]);
    const byId = await list('taurusdb');
    assert.equal(byId.get('t-0')!.sizeBytes, Math.round(1536.5 * KiB));
    assert.equal(byId.get('t-1')!.sizeBytes, 3 * GiB);
  });

  test('JSA: size_on_disk in bytes; a backup without it has no size', async () => {
    sim.seed('jsa', 'c-jsa', [
      { id: 101, status: 'SUCCESS', size_on_disk: 123_456_789 },
      { id: 102, status: 'SUCCESS', size_on_disk: null },
    ]);
    const byId = await list('jsa');
    const [r101, r102] = [...byId.values()].sort((x, y) => x.backupId.localeCompare(y.backupId));
    assert.equal(r101!.backupId, '101');
    assert.equal(r101!.sizeBytes, 123_456_789);
    assert.equal(r102!.sizeBytes, undefined);
  });

  test('Veeam: backupSizeBytes per restore point, exact', async () => {
    sim.seed('veeam', 'a-veeam', [
      {
        id: 'vm-1',
        restorePoints: [
          { id: 'rp-0', pointInTime: new Date(T0).toISOString(), backupSizeBytes: 5 * MiB + 7 },
          {
            id: 'rp-1',
            pointInTime: new Date(T0 + 86_400_000).toISOString(),
            backupSizeBytes: 9_007_199_254,
          },
        ],
      },
    ]);
    const byId = await list('veeam');
    assert.equal(byId.get('rp-0')!.sizeBytes, 5 * MiB + 7);
    assert.equal(byId.get('rp-1')!.sizeBytes, 9_007_199_254);
  });
});

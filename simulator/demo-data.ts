/**
 * The demo's world: one account per provider, seeded with backups in each provider's own shape,
 * including the cases an operator meets (already gone, blocked, automated backups). Used by
 * `npm run demo` and `retention-cleanup simulate --seed-demo`. Kept in step with config/demo.yaml.
 */
import type { ItemRef } from '../contract/model';
import type { Simulator } from './server';

export interface DemoAccount {
  name: string;
  provider: 'vbs' | 'csbs' | 'taurusdb' | 'jsa' | 'veeam';
  /** Huawei project id, JSA console or Veeam appliance in the simulator. */
  scope: string;
}

export const DEMO_ACCOUNTS: DemoAccount[] = [
  { name: 'vbs-demo', provider: 'vbs', scope: 'demo-project-vbs' },
  { name: 'csbs-demo', provider: 'csbs', scope: 'demo-project-csbs' },
  { name: 'taurusdb-demo', provider: 'taurusdb', scope: 'demo-project-taurusdb' },
  { name: 'jsa-demo', provider: 'jsa', scope: 'demo-console' },
  { name: 'veeam-demo', provider: 'veeam', scope: 'demo-appliance' },
];

const DAY = 86_400_000;
const noZone = (ms: number) => new Date(ms).toISOString().replace('Z', '');
const pad = (i: number) => String(i).padStart(3, '0');

/** Seeds the simulator and returns the items of the sample run (every seeded backup, plus a few to show outcomes). */
export function seedDemo(sim: Simulator, now = Date.now()): ItemRef[] {
  const items: ItemRef[] = [];
  const add = (account: string, id: string, checkpointId?: string) =>
    items.push({ account, id, ...(checkpointId ? { checkpointId } : {}) });

  const vbs = DEMO_ACCOUNTS[0]!;
  const vbsBackups = Array.from({ length: 30 }, (_, i) => ({
    id: `vbs-bk-${pad(i)}`,
    name: `nightly-${i}`,
    status: 'available',
    volume_id: `vol-${i % 4}`,
    created_at: noZone(now - (i + 30) * DAY),
    // One backup was used to create an image: VBS refuses (VolumeBackup.0113) → blocked.
    ...(i === 7 ? { sim: { usedForImage: true } } : {}),
  }));
  sim.seed('vbs', vbs.scope, vbsBackups);
  vbsBackups.forEach((b) => add(vbs.name, b.id));
  add(vbs.name, 'vbs-bk-already-gone'); // → absent

  const csbs = DEMO_ACCOUNTS[1]!;
  const csbsItems = Array.from({ length: 20 }, (_, i) => ({
    id: `csbs-item-${pad(i)}`,
    checkpoint_id: `csbs-ckpt-${pad(Math.floor(i / 2))}`,
    name: `server-backup-${i}`,
    status: 'available',
    resource_id: `server-${i % 3}`,
    resource_type: 'OS::Nova::Server',
    created_at: noZone(now - (i + 40) * DAY),
  }));
  sim.seed('csbs', csbs.scope, csbsItems);
  csbsItems.forEach((c) => add(csbs.name, c.id, c.checkpoint_id));

  const taurus = DEMO_ACCOUNTS[2]!;
  const taurusBackups = Array.from({ length: 12 }, (_, i) => ({
    id: `taurus-bk-${pad(i)}`,
    name: `manual-${i}`,
    begin_time: new Date(now - (i + 35) * DAY).toISOString().replace(/\.\d+Z$/, '+0000'),
    status: 'COMPLETED',
    // Automated backups are never deleted: TaurusDB only deletes manual ones → blocked.
    type: i === 0 ? 'auto' : 'manual',
    instance_id: `instance-${i % 2}`,
  }));
  sim.seed('taurusdb', taurus.scope, taurusBackups);
  taurusBackups.forEach((b) => add(taurus.name, b.id));

  const jsa = DEMO_ACCOUNTS[3]!;
  const jsaBackups = Array.from({ length: 10 }, (_, i) => ({
    id: 1000 + i,
    name: `nightly-config-${i}`,
    type: 'CONFIG' as const,
    status: 'SUCCESS',
    host_id: 53,
    time_initiated: now - (i + 60) * DAY,
    time_completed: now - (i + 60) * DAY + 600_000,
  }));
  sim.seed('jsa', jsa.scope, jsaBackups);
  jsaBackups.forEach((b) => add(jsa.name, String(b.id)));

  const veeam = DEMO_ACCOUNTS[4]!;
  const vms = Array.from({ length: 6 }, (_, i) => ({
    id: `vm-${pad(i)}`,
    name: `retired-vm-${i}`,
    restorePoints: Array.from({ length: 3 }, (_, j) => ({
      id: `rp-${pad(i)}-${j}`,
      pointInTime: new Date(now - (i * 3 + j + 90) * DAY).toISOString(),
      backupSizeBytes: 5 * 1024 ** 3,
    })),
  }));
  sim.seed('veeam', veeam.scope, vms);
  vms.forEach((vm) => add(veeam.name, vm.id)); // Veeam v1 deletes per VM

  return items;
}

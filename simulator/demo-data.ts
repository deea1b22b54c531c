/**
 * The demo's world: a few accounts per provider, seeded with backups in each provider's own shape,
 * including the cases an operator meets (already gone, blocked, slow). Used by `npm run demo` and
 * `retention-cleanup simulate --seed-demo`.
 */
import type { Simulator } from './server';
import type { ItemRef } from '../workflows/model';

export interface DemoAccount {
  name: string;
  provider: string;
  scope: string;
}

/** Account name → simulator scope. Kept in step with config/demo.yaml. */
export const DEMO_ACCOUNTS: DemoAccount[] = [
  { name: 'vbs-demo', provider: 'vbs', scope: 'demo-project-vbs' },
];

function isoNoZone(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '');
}

/** Seeds the simulator and returns the items of the sample run. */
export function seedDemo(sim: Simulator, now = Date.now()): ItemRef[] {
  const items: ItemRef[] = [];
  for (const a of DEMO_ACCOUNTS) {
    if (!sim.providers.has(a.provider)) continue;
    if (a.provider === 'vbs') {
      const backups = Array.from({ length: 40 }, (_, i) => ({
        id: `vbs-bk-${String(i).padStart(3, '0')}`,
        name: `nightly-${i}`,
        status: 'available',
        volume_id: `vol-${i % 4}`,
        created_at: isoNoZone(now - (i + 30) * 86_400_000),
        ...(i === 7 ? { sim: { usedForImage: true } } : {}),
      }));
      sim.seed('vbs', a.scope, backups);
      items.push(...backups.map((b) => ({ account: a.name, id: b.id })));
      items.push({ account: a.name, id: 'vbs-bk-already-gone' });
    }
  }
  return items;
}

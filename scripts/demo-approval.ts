/**
 * The demo's approval part (README, "Approving deletions"): a policy run that plans, then waits for a
 * person. It seeds six nightly backups of one VBS volume, starts a run that keeps the newest three and
 * needs approval, and prints its plan with the commands that approve or reject it. Nothing of this
 * run is deleted until someone approves it (CLI, Web UI or client).
 */
import { renderPlan } from '../client/cli/commands/plan';
import type { RetentionClient } from '../client/retention-client';
import { DEMO_ACCOUNTS } from '../simulator/demo-data';
import type { Simulator } from '../simulator/server';

const DAY = 86_400_000;

export async function startApprovalDemo(
  sim: Simulator,
  rc: RetentionClient,
  say: (m: string) => void,
): Promise<string> {
  const vbs = DEMO_ACCOUNTS[0]!;
  const now = Date.now();
  sim.seed(
    'vbs',
    vbs.scope,
    Array.from({ length: 6 }, (_, d) => ({
      id: `vbs-approval-${d}`,
      name: `nightly-${d}`,
      status: 'available',
      volume_id: 'vol-approval',
      created_at: new Date(now - d * DAY - 3_600_000).toISOString().replace('Z', ''),
    })),
  );
  const workflowId = await rc.start({
    policy: { accounts: [vbs.name], rules: { keepLast: 3 }, groups: ['vol-approval'] },
    dryRun: false,
    approval: { required: true, timeout: '24h' },
    label: 'demo: awaiting approval',
  });
  for (;;) {
    const p = await rc.getProgress(workflowId).catch(() => undefined);
    if (p?.state === 'awaiting-approval') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  say(`\nA second run plans, then waits for a person (README, "Approving deletions"):\n`);
  say(renderPlan(workflowId, await rc.getPlan(workflowId)));
  say('\n(npm run cli -- plan|approve|reject ...; or in the Web UI: Queries → plan, then Updates → approve)');
  return workflowId;
}

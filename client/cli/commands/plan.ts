import type { RunPlan } from '../../../contract/approval';
import { defineCommand, PROGRAM, showHelp, type Command } from '../command';
import { whatIfCommand } from './what-if';
import { CONNECTION_OPTIONS, withClient } from '../connect';
import { EXIT } from '../errors';
import { print, printJson } from '../io';

/** `plan <workflowId>`: the plan of a run awaiting approval. */
export const runPlan = defineCommand({
  name: 'plan',
  args: ['workflowId'],
  summary: 'the exact plan a run awaits approval with, its hash, and how to approve',
  description: `Prints the run's plan (the "plan" query): a table per account, guard violations, the plan
hash and the approve / reject commands. README, "Approving deletions". Exit 3 when the run has no plan
to show (still planning, or it needs no approval).`,
  options: {
    json: { type: 'boolean', help: 'the plan as JSON on stdout' },
    ...CONNECTION_OPTIONS,
  },
  async run({ args: { workflowId }, values }) {
    return withClient(values, undefined, async (rc) => {
      const p = await rc.getPlan(workflowId);
      if (values.json) printJson(p);
      else print(renderPlan(workflowId, p));
      return EXIT.OK;
    });
  },
});

/**
 * `plan` is two commands on one name: `plan <workflowId>` (a run's plan, for approval) and
 * `plan --policy FILE ...` (the what-if of a policy change, client/cli/commands/what-if.ts). The
 * --policy option decides.
 */
export const plan: Command = {
  name: 'plan',
  aliases: [],
  synopsis: 'plan <workflowId> | plan --policy FILE',
  summary: "a run's plan awaiting approval, or (--policy) what a policy change would delete",
  help: () => `${runPlan.help()}\n\n${whatIfCommand.help()}`,
  run: (argv) => {
    if (argv.some((a) => a === '--policy' || a.startsWith('--policy='))) return whatIfCommand.run(argv);
    if (argv.includes('--help') || argv.includes('-h')) return Promise.resolve(showHelp(plan.help()));
    return runPlan.run(argv);
  },
};

export function renderPlan(workflowId: string, p: RunPlan): string {
  const lines = [`Plan of ${workflowId}: ${p.toDelete} deletion(s)`, ''];
  lines.push('account                          provider   to delete      kept    listed');
  for (const a of p.accounts)
    lines.push(
      `${a.account.padEnd(32)} ${a.provider.padEnd(10)} ${String(a.toDelete).padStart(9)} ${String(a.kept ?? '-').padStart(9)} ${String(a.listed ?? '-').padStart(9)}`,
    );
  if (p.items) {
    lines.push('', 'items:');
    for (const i of p.items)
      lines.push(`  ${i.account}  ${i.checkpointId ? `${i.checkpointId}/` : ''}${i.id}`);
  }
  if (p.guardViolations.length) {
    lines.push('', 'guard violations (approving deletes past them):');
    for (const v of p.guardViolations) lines.push(`  ${v}`);
  }
  const a = p.approval;
  lines.push(
    '',
    `plan hash: ${p.planHash}`,
    `approval: ${a.state}${a.deadline ? ` (until ${a.deadline})` : ''}`,
  );
  if (a.approvers) lines.push(`approvers: ${a.approvers.join(', ')}`);
  if (a.decidedBy) lines.push(`decided by: ${a.decidedBy}`);
  if (a.state === 'awaiting')
    lines.push(
      '',
      'to approve:',
      `  ${PROGRAM} approve ${workflowId} --plan-hash ${p.planHash} --approver NAME [--comment TEXT]`,
      'to reject:',
      `  ${PROGRAM} reject ${workflowId} --approver NAME --reason TEXT`,
    );
  return lines.join('\n');
}

import { ApprovalRefusedError } from '../../approval';
import { defineCommand } from '../command';
import { requiredOption } from '../required-option';
import { CONNECTION_OPTIONS, withClient } from '../connect';
import { EXIT } from '../errors';
import { say } from '../io';

export const approve = defineCommand({
  name: 'approve',
  args: ['workflowId'],
  summary: 'approve the exact plan a run awaits approval with (by its hash)',
  description: `Sends the "approve" update: the run then deletes exactly the plan with that hash (policy
runs list again first and skip what the rules no longer delete). README, "Approving deletions".
Exit 1 when the run refuses (another plan hash, approver not allowed, not awaiting approval), with
its reason; exit 2 when an option is missing.`,
  options: {
    'plan-hash': { type: 'string', value: 'H', help: 'the hash `retention-cleanup plan` shows (required)' },
    approver: { type: 'string', value: 'NAME', help: 'who approves (required; kept in the memo)' },
    comment: { type: 'string', value: 'TEXT', help: 'kept with the approval in the memo and report' },
    ...CONNECTION_OPTIONS,
  },
  async run({ args: { workflowId }, values, help }) {
    const planHash = requiredOption(values['plan-hash'], '--plan-hash H', help);
    const approver = requiredOption(values.approver, '--approver NAME', help);
    return withClient(values, undefined, async (rc) => {
      try {
        await rc.approve(workflowId, {
          planHash,
          approver,
          ...(values.comment ? { comment: values.comment } : {}),
        });
      } catch (err) {
        if (!(err instanceof ApprovalRefusedError)) throw err;
        say(`refused: ${err.reason}`);
        return EXIT.PROBLEMS;
      }
      say(`approved plan ${planHash} of ${workflowId} as ${approver}: the run deletes exactly that plan`);
      return EXIT.OK;
    });
  },
});

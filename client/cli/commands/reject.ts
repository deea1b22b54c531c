import { ApprovalRefusedError } from '../../approval';
import { defineCommand } from '../command';
import { requiredOption } from '../required-option';
import { CONNECTION_OPTIONS, withClient } from '../connect';
import { EXIT } from '../errors';
import { say } from '../io';

export const reject = defineCommand({
  name: 'reject',
  args: ['workflowId'],
  summary: 'reject the plan a run awaits approval with: nothing is deleted',
  description: `Sends the "reject" update: the run ends with every item skipped (the reason names the
approver) and nothing deleted. README, "Approving deletions". Exit 1 when the run refuses (approver not
allowed, not awaiting approval), with its reason; exit 2 when an option is missing.`,
  options: {
    approver: { type: 'string', value: 'NAME', help: 'who rejects (required)' },
    reason: { type: 'string', value: 'TEXT', help: 'why (required; every item says it)' },
    ...CONNECTION_OPTIONS,
  },
  async run({ args: { workflowId }, values, help }) {
    const approver = requiredOption(values.approver, '--approver NAME', help);
    const reason = requiredOption(values.reason, '--reason TEXT', help);
    return withClient(values, undefined, async (rc) => {
      try {
        await rc.reject(workflowId, { approver, reason });
      } catch (err) {
        if (!(err instanceof ApprovalRefusedError)) throw err;
        say(`refused: ${err.reason}`);
        return EXIT.PROBLEMS;
      }
      say(`rejected the plan of ${workflowId} as ${approver}: nothing is deleted`);
      return EXIT.OK;
    });
  },
});

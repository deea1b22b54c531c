/**
 * Adversary test of notifications (issue 14 item 6; docs/operations.md "Notifications"; README
 * "Guarantees": secrets stay out of Temporal, logs and reports): webhook URLs that hold credentials
 * (user:password in the authority, a token in the query) and fail in every way a URL can fail (DNS,
 * refused connection, a referenced value that is no URL) must not appear in any history, worker log
 * line, result or report, while the failures are still logged by the notification's name.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { reportOf, waitFor } from './helpers/runs';
import { historiesText, leakForms, leaksIn } from './helpers/secret-scan';
import { captureWorkerLogs, startStack, type Stack } from './helpers/stack';

const ENV = 'RC_TEST_ADV_WEBHOOK';
const SECRETS = ['PwAdvSecret1', 'TokAdvSecret2', 'TokAdvSecret3', 'TokAdvSecret4'];

describe('notifications adversary: credential-bearing webhook URLs that fail', () => {
  let stack: Stack;
  let rc: RetentionClient;
  const logs = captureWorkerLogs();

  before(async () => {
    process.env[ENV] = `not a url ${SECRETS[3]}`;
    stack = await startStack(
      { vbs: { provider: 'vbs' } },
      {
        config: {
          notifications: [
            {
              name: 'dns-fail',
              url: `http://hookuser:${SECRETS[0]}@no-such-host.invalid/hook?token=${SECRETS[1]}`,
              events: ['run-finished'],
            },
            { url: `http://127.0.0.1:1/hook?token=${SECRETS[2]}`, events: ['run-finished'], format: 'slack' },
            { name: 'env-no-url', url: { env: ENV }, events: ['run-finished'] },
          ],
        },
      },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => {
    logs.stop();
    await stack?.stop();
    delete process.env[ENV];
  });

  test('DNS failure, refused connection and a non-URL reference: logged by name, no secret anywhere', async () => {
    const id = await rc.start({ items: [{ account: stack.account('vbs'), id: 'ghost-1' }], dryRun: false });
    const summary = await rc.result(id);
    const warned = (name: string) =>
      logs.lines.some((l) => l.message.includes(`notification ${name} of event run-finished for ${id}`));
    await waitFor('a warning for each failed notification', () =>
      ['dns-fail', 'notifications[1]', 'env-no-url'].every(warned),
    );
    const histories = await historiesText(stack.client, stack.taskQueue, id, 1);
    assert.ok(histories.includes('sendNotification'), 'the scan covers the notification activity');
    const places: Record<string, string> = {
      histories,
      logs: logs.lines.map((l) => l.text).join('\n'),
      result: JSON.stringify(summary),
      report: JSON.stringify(await reportOf(rc, id)),
    };
    for (const [i, s] of SECRETS.entries())
      assert.deepEqual(leaksIn(leakForms(s), places), [], `secret ${i} leaked`);
    // Not even the host of the URL that holds credentials.
    assert.deepEqual(leaksIn(['no-such-host.invalid'], places), []);
  });
});

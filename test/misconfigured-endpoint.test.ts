/**
 * A misconfiguration never reads as success (README "Guarantees"): a 404 without the provider's own
 * not-found marker (here: a typo'd endpoint path, answered by the simulator's bare 404 route with an
 * empty or HTML body) fails the item naming the account's endpoint, never `absent`. Runs through the
 * real stack for VBS and TaurusDB (the two that reported every item `absent`); every adapter's delete,
 * poll and list calls against the simulator over real HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { RetentionClient } from '../client/retention-client';
import { isProviderError } from '../activities/provider-error';
import { AdapterRegistry } from '../activities/providers/registry';
import { Simulator } from '../simulator/server';
import { parseWorkerConfig } from '../worker/config';
import { configFor, startStack, TEST_CREDENTIAL_ENV, vbsBackups, type Stack } from './helpers/stack';
import { reportOf } from './helpers/runs';

/** Points an account of a stack (before its worker starts) at another endpoint. */
function setEndpoint(stack: Stack, name: string, endpoint: string): void {
  (stack.loaded.config.accounts[stack.account(name)] as { endpoint: string }).endpoint = endpoint;
}

describe("runs against a typo'd endpoint (real stack, dryRun: false)", () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        vbs: { provider: 'vbs' },
        taurusdb: { provider: 'taurusdb' },
        vbspolicy: { provider: 'vbs' },
        vbsmany: { provider: 'vbs', limits: { maxConcurrent: 2 } },
      },
      { worker: false },
    );
    setEndpoint(stack, 'vbs', `${stack.sim.url}/vbs-typo`);
    setEndpoint(stack, 'taurusdb', `${stack.sim.url}/taurusdb-html`);
    setEndpoint(stack, 'vbspolicy', `${stack.sim.url}/vbs-typo`);
    setEndpoint(stack, 'vbsmany', `${stack.sim.url}/vbs-typo`);
    await stack.startWorker();
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  for (const [name, path, body] of [
    ['vbs', 'vbs-typo', 'empty body'],
    ['taurusdb', 'taurusdb-html', 'HTML body'],
  ] as const) {
    test(`${name}: every item ends failed naming accounts.<name>.endpoint, none absent`, async () => {
      const account = stack.account(name);
      // The backups exist at the right address; the account's endpoint is wrong.
      if (name === 'vbs') stack.sim.seed('vbs', stack.scope(name), vbsBackups(6, 'mis'));
      else
        stack.sim.seed(
          'taurusdb',
          stack.scope(name),
          Array.from({ length: 6 }, (_, i) => ({
            id: `mis-${i}`,
            begin_time: '2026-01-01T00:00:00+0000',
            instance_id: 'i',
          })),
        );
      const items = Array.from({ length: 6 }, (_, i) => ({
        account,
        id: name === 'vbs' ? `mis-${String(i).padStart(5, '0')}` : `mis-${i}`,
      }));
      const id = await rc.start({ items, dryRun: false });
      const summary = await rc.result(id);
      assert.equal(summary.counts.absent, 0, 'a wrong endpoint never reads as "already gone"');
      assert.equal(summary.counts.failed, 6);
      for (const o of await reportOf(rc, id)) {
        assert.equal(o.outcome, 'failed');
        assert.match(o.reason, /^AccountMisconfigured: /);
        assert.match(
          o.reason,
          new RegExp(
            `HTTP 404 without .* \\(${body}\\): check accounts\\.${account}\\.endpoint \\(http://127\\.0\\.0\\.1:\\d+/${path}\\)`,
          ),
        );
      }
      assert.equal(stack.sim.provider(name).list(stack.scope(name)).length, 6, 'nothing was deleted');
    });
  }

  test("the account's circuit opens: after the first misconfiguration, queued items fail without a request", async () => {
    const account = stack.account('vbsmany');
    const items = Array.from({ length: 40 }, (_, i) => ({ account, id: `many-${i}` }));
    const summary = await rc.result(await rc.start({ items, dryRun: false }));
    assert.equal(summary.counts.failed, 40);
    assert.equal(summary.counts.absent, 0);
    const outcomes = await reportOf(rc, summary.workflowId);
    const notSent = outcomes.filter((o) => /not sent: the account's circuit is open/.test(o.reason));
    for (const o of outcomes) assert.match(o.reason, /^AccountMisconfigured: .*check accounts\..*\.endpoint/);
    assert.ok(notSent.length >= 30, `most items were never sent (${notSent.length} of 40)`);
  });

  test('a policy run fails at listing with AccountMisconfigured naming the endpoint', async () => {
    const account = stack.account('vbspolicy');
    const id = await rc.start({ policy: { accounts: [account], rules: { keepLast: 1 } }, dryRun: false });
    await assert.rejects(rc.result(id), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      let cause: unknown = err.cause;
      while (cause && !(cause instanceof ApplicationFailure)) cause = (cause as { cause?: unknown }).cause;
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'AccountMisconfigured');
      assert.equal(cause.nonRetryable, true);
      assert.match(
        cause.message,
        new RegExp(
          `VBS list backups: HTTP 404 without itemNotFound \\(empty body\\): check accounts\\.${account}\\.endpoint`,
        ),
      );
      return true;
    });
  });
});

describe('every adapter: delete, poll and list against a path that does not exist', () => {
  const sim = new Simulator();
  let registry: AdapterRegistry;

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV);
    await sim.start();
    const raw = configFor(
      sim.url,
      {
        vbs: { provider: 'vbs', scope: 'p' },
        csbs: { provider: 'csbs', scope: 'p' },
        taurusdb: { provider: 'taurusdb', scope: 'p' },
        jsa: { provider: 'jsa', scope: 'console' },
        veeam: { provider: 'veeam', scope: 'appliance' },
        iam: { provider: 'vbs', scope: 'p' },
      },
      (n) => n,
    );
    const set = (n: string, field: string, v: string) =>
      ((raw.accounts[n] as Record<string, string>)[field] = v);
    set('vbs', 'endpoint', `${sim.url}/vbs-typo`);
    set('csbs', 'endpoint', `${sim.url}/csbs-html`);
    set('taurusdb', 'endpoint', `${sim.url}/taurusdb-typo`);
    set('jsa', 'endpoint', `${sim.url}/jsa-html/console`);
    set('veeam', 'endpoint', `${sim.url}/veeam-typo/appliance`);
    set('iam', 'iamEndpoint', `${sim.url}/iam-typo`);
    registry = new AdapterRegistry(parseWorkerConfig(raw, 'test'));
  });
  after(async () => {
    await registry.close();
    await sim.stop();
  });

  const field: Record<string, string> = { iam: 'iamEndpoint' };
  for (const name of ['vbs', 'csbs', 'taurusdb', 'jsa', 'veeam', 'iam']) {
    test(`${name}: misconfigured naming accounts.${name}.${field[name] ?? 'endpoint'}, never gone`, async () => {
      const adapter = registry.get(name);
      const item = { account: name, id: '101', checkpointId: 'cp-1' };
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['delete', () => adapter.requestDeletion(item, {})],
        ['poll', () => adapter.observeDeletion(item, { sessionId: 's-1' }, {})],
        ['list', () => adapter.listBackups(undefined, {})],
      ];
      for (const [what, call] of calls) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(isProviderError(err), `${what}: ${String(err)}`);
          assert.equal(err.kind, 'misconfigured', `${what}: ${err.message}`);
          assert.equal(err.context.field, `accounts.${name}.${field[name] ?? 'endpoint'}`);
          assert.match(err.message, /HTTP 404 without .*: check accounts\./);
          return true;
        });
      }
    });
  }
});

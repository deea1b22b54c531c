/**
 * `retention-cleanup setup-namespace` against the suite's real dev server, on namespaces created
 * here (the dev server registers the search attributes on "default" only): it registers what runs
 * need, a second call changes nothing, a run then works on that namespace, and an attribute of
 * another type is refused by name without touching the namespace.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { google, temporal } from '@temporalio/proto';
import { RetentionClient } from '../client/retention-client';
import type { NamespaceSetup } from '../client/namespace-setup';
import { startWorker } from '../worker/worker';
import { runCli, show } from './helpers/run-cli';
import { waitFor } from './helpers/runs';
import { startStack, temporalAddress, type Stack } from './helpers/stack';

const { IndexedValueType, EventType } = temporal.api.enums.v1;

/** What runs set (workflows/search-attributes.ts), as the server must end up holding it. */
const NEEDED = {
  RetentionAccounts: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  RetentionProviders: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  RetentionDryRun: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  RetentionDeleted: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  RetentionProblems: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  RetentionItems: IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

describe('setup-namespace', () => {
  let connection: Connection;
  let dir: string;

  const cli = (args: string[]) => runCli(args, { env: { TEMPORAL_ADDRESS: temporalAddress() } });
  const customAttributes = async (namespace: string) =>
    (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};

  /** A namespace of its own, ready once the server lists its search attributes. */
  async function freshNamespace(prefix: string): Promise<string> {
    const namespace = `${prefix}-${randomUUID().slice(0, 8)}`;
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: google.protobuf.Duration.fromObject({ seconds: 86_400 }),
    });
    await waitFor(`namespace ${namespace}`, () =>
      customAttributes(namespace).then(
        () => true,
        () => false,
      ),
    );
    assert.deepEqual(await customAttributes(namespace), {}, 'a fresh namespace has no custom attributes');
    return namespace;
  }

  before(async () => {
    connection = await Connection.connect({ address: temporalAddress() });
    dir = mkdtempSync(join(tmpdir(), 'rc-setup-ns-'));
  });
  after(async () => {
    await connection.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('registers every search attribute on a fresh namespace; a second call changes nothing', async () => {
    const namespace = await freshNamespace('rc-setup');

    const first = await cli(['setup-namespace', '--namespace', namespace]);
    assert.equal(first.code, 0, show(first));
    assert.deepEqual(await customAttributes(namespace), NEEDED);
    for (const name of Object.keys(NEEDED))
      assert.match(first.stdout, new RegExp(`^${name} +\\w+ +added$`, 'm'));
    assert.match(first.stderr, new RegExp(`namespace "${namespace}": 6 search attribute\\(s\\) added`));

    const again = await cli(['setup-namespace', '--namespace', namespace, '--json']);
    assert.equal(again.code, 0, show(again));
    assert.deepEqual(await customAttributes(namespace), NEEDED);
    const setup = JSON.parse(again.stdout) as NamespaceSetup;
    assert.equal(setup.namespace, namespace);
    assert.deepEqual(
      setup.attributes.map((a) => [a.name, a.state]),
      Object.keys(NEEDED).map((name) => [name, 'present']),
    );
    assert.match(again.stderr, /all 6 search attributes already registered; nothing changed/);
  });

  test('a run started with the CLI on a set-up namespace completes and is found by its attributes', async () => {
    const namespace = await freshNamespace('rc-setup-run');
    const setup = await cli(['setup-namespace', '--namespace', namespace]);
    assert.equal(setup.code, 0, show(setup));

    const stack: Stack = await startStack({ vbs: { provider: 'vbs' } }, { worker: false });
    const worker = await startWorker({
      loaded: stack.loaded,
      address: temporalAddress(),
      namespace,
      taskQueue: stack.taskQueue,
      identity: `test-setup-ns-${namespace}`,
    });
    const client = new Client({ connection, namespace });
    try {
      const account = stack.account('vbs');
      const request = join(dir, 'run.json');
      writeFileSync(request, JSON.stringify({ label: 'setup-ns', items: [{ account, id: 'b-1' }] }));
      const started = await cli([
        'start',
        request,
        '--namespace',
        namespace,
        '--task-queue',
        stack.taskQueue,
      ]);
      assert.equal(started.code, 0, show(started));
      const workflowId = started.stdout.trim();

      // The run either completes, or its workflow tasks fail (as they do when an attribute it sets is
      // not registered): wait for whichever comes first, and say which.
      const handle = client.workflow.getHandle(workflowId);
      const failedTask = async () => {
        const { events } = await handle.fetchHistory();
        return events?.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
      };
      const ended = await waitFor(
        'the run to complete or a workflow task to fail',
        async () => {
          if ((await handle.describe()).status.name === 'COMPLETED') return 'completed';
          const failed = await failedTask();
          return (
            failed && `workflow task failed: ${failed.workflowTaskFailedEventAttributes?.failure?.message}`
          );
        },
        600_000,
        500,
      );
      assert.equal(ended, 'completed');
      const summary = await new RetentionClient(client, stack.taskQueue).result(workflowId);
      assert.equal(summary.dryRun, true);
      assert.equal(summary.counts.skipped, 1);

      const found = await waitFor('the run in visibility by its search attributes', async () => {
        const ids: string[] = [];
        const query = `RetentionDryRun = true AND RetentionAccounts = "${account}" AND RetentionItems = 1`;
        for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
        return ids.length ? ids : undefined;
      });
      assert.deepEqual(found, [workflowId]);
    } finally {
      await worker.shutdown();
      await stack.stop();
    }
  });

  test('an attribute registered with another type is named, exit 2, and nothing is added', async () => {
    const namespace = await freshNamespace('rc-setup-conflict');
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: { RetentionDryRun: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
    });

    const r = await cli(['setup-namespace', '--namespace', namespace]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /RetentionDryRun is registered as Keyword, but retention-cleanup needs Bool/);
    assert.match(r.stderr, new RegExp(`nothing was changed in namespace "${namespace}"`));
    assert.match(r.stdout, /^RetentionDryRun +Bool +CONFLICT: registered as Keyword$/m);
    assert.match(r.stdout, /^RetentionAccounts +KeywordList +not added$/m);
    assert.deepEqual(await customAttributes(namespace), {
      RetentionDryRun: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    });
  });

  test('a namespace that does not exist: exit 2, naming it', async () => {
    const namespace = `rc-no-such-namespace-${randomUUID().slice(0, 8)}`;
    const r = await cli(['setup-namespace', '--namespace', namespace]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, new RegExp(`namespace "${namespace}" does not exist`));
  });
});

/**
 * Notifications (issue 14 item 6; docs/operations.md, "Notifications") through the real stack: the
 * Temporal dev server, the provider simulator, a worker whose config lists webhooks, and a webhook
 * receiver on loopback that records what it gets. A run's end sends run-finished (JSON and Slack, to a
 * literal URL and to one behind an `{ env }` reference) and run-problems; a misconfigured account's
 * lane sends circuit-open; webhooks that answer 500 forever or whose port is closed are logged by
 * name and counted, and the run completes. No URL is in any history or worker log (README
 * "Guarantees": secrets stay out of Temporal, logs and reports).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultPayloadConverter, type MetricCounter, type MetricTags } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { RetentionClient } from '../client/retention-client';
import { laneWorkflowId } from '../contract/ids';
import type { RunEvent } from '../contract/notifications';
import { createNotificationActivities } from '../activities/notify';
import { ConfigError, parseWorkerConfig } from '../worker/config';
import YAML from 'yaml';
import { runCli } from './helpers/run-cli';
import { waitFor } from './helpers/runs';
import { asText, historiesText } from './helpers/secret-scan';
import { captureWorkerLogs, startStack, vbsBackups, type Stack, type WorkerLogLine } from './helpers/stack';

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/** A webhook receiver: /ok/* answers 200, /fail/* 500 forever, /hold/* waits until release(). */
class Receiver {
  readonly received: Received[] = [];
  private readonly held: ServerResponse[] = [];
  private releasedAll = false;
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const path = req.url ?? '';
    this.received.push({ path, body: JSON.parse(text) as Record<string, unknown> });
    if (path.startsWith('/fail/')) return void res.writeHead(500).end('down');
    if (path.startsWith('/hold/') && !this.releasedAll) return void this.held.push(res);
    res.writeHead(200).end('ok');
  }

  /** Answers every held request (and every later one) with 200. */
  release(): void {
    this.releasedAll = true;
    for (const res of this.held.splice(0)) if (!res.destroyed) res.writeHead(200).end('ok');
  }

  at(prefix: string, workflowId: string): Received[] {
    return this.received.filter(
      (r) =>
        r.path.startsWith(prefix) &&
        (r.body.workflowId === workflowId || JSON.stringify(r.body).includes(workflowId)),
    );
  }

  async stop(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const UI = 'https://temporal-ui.example.test';
const ENV = 'RC_TEST_WEBHOOK_URL';

describe('notifications (real stack, webhook receiver on loopback)', () => {
  const receiver = new Receiver();
  let stack: Stack;
  let rc: RetentionClient;
  let deadPort: number;
  const secretTag = `hook-${randomUUID()}`;
  const logs = captureWorkerLogs();

  before(async () => {
    await receiver.start();
    deadPort = await closedPort();
    process.env[ENV] = `${receiver.url}/ok/env/${secretTag}`;
    stack = await startStack(
      {
        good: { provider: 'vbs' },
        bad: { provider: 'vbs', limits: { maxConcurrent: 2 } },
        cb: {
          provider: 'vbs',
          limits: { maxConcurrent: 1, circuitBreaker: { failureRate: 0.5, window: 2, coolDown: '10m' } },
        },
      },
      {
        worker: false,
        config: {
          webUiUrl: UI,
          notifications: [
            { name: 'ops-json', url: `${receiver.url}/ok/json`, events: ['run-finished', 'run-problems'] },
            { name: 'ops-slack', url: `${receiver.url}/ok/slack`, events: ['run-finished'], format: 'slack' },
            { name: 'by-env', url: { env: ENV }, events: ['run-finished'] },
            { name: 'down-500', url: `${receiver.url}/fail/x`, events: ['run-finished'] },
            { url: `http://127.0.0.1:${deadPort}/nothing-here`, events: ['run-finished'] },
            { name: 'held', url: `${receiver.url}/hold/circuit`, events: ['circuit-open'] },
          ],
        },
      },
    );
    // The bad account's endpoint path does not exist: every deletion is a misconfiguration.
    (stack.loaded.config.accounts[stack.account('bad')] as { endpoint: string }).endpoint =
      `${stack.sim.url}/vbs-typo`;
    await stack.startWorker();
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => {
    logs.stop();
    await stack?.stop();
    await receiver.stop();
    delete process.env[ENV];
  });

  test('run-finished reaches the JSON, Slack and { env } webhooks with the right counts; dead webhooks are logged by name; no URL in any history or log', async () => {
    const account = stack.account('good');
    stack.sim.seed('vbs', stack.scope('good'), vbsBackups(6, 'fin'));
    const items = Array.from({ length: 6 }, (_, i) => ({ account, id: `fin-${String(i).padStart(5, '0')}` }));
    const id = await rc.start({ items, dryRun: false, label: 'nightly notify' });
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 6);

    // Sent before the run completed: the run's end waits for its notifications.
    const [json] = receiver.at('/ok/json', id);
    assert.ok(json, 'the JSON webhook got run-finished');
    assert.deepEqual(Object.keys(json.body).sort(), [
      'at',
      'counts',
      'event',
      'label',
      'webUiUrl',
      'workflowId',
    ]);
    assert.equal(json.body.event, 'run-finished');
    assert.equal(json.body.workflowId, id);
    assert.equal(json.body.label, 'nightly notify');
    assert.deepEqual(json.body.counts, summary.counts);
    assert.equal(json.body.webUiUrl, `${UI}/namespaces/default/workflows/${encodeURIComponent(id)}`);
    assert.ok(!Number.isNaN(Date.parse(json.body.at as string)));
    assert.equal(receiver.at('/ok/json', id).length, 1, 'no run-problems for a run without problems');

    const [slack] = receiver.at('/ok/slack', id);
    assert.ok(slack, 'the Slack webhook got run-finished');
    assert.deepEqual(Object.keys(slack.body).sort(), ['blocks', 'text']);
    const text = slack.body.text as string;
    assert.match(
      text,
      new RegExp(
        `Finished: retention run "nightly notify" \\(${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\): 6 deleted`,
      ),
    );
    assert.ok(text.includes(`<${UI}/namespaces/default/workflows/`), 'a Slack link to the Web UI');
    const blocks = slack.body.blocks as { type: string; text?: { type: string; text: string } }[];
    assert.equal(blocks[0]?.type, 'section');
    assert.equal(blocks[0]?.text?.type, 'mrkdwn');

    const viaEnv = receiver.at(`/ok/env/${secretTag}`, id);
    assert.equal(viaEnv.length, 1, 'the { env } reference was resolved by the worker');
    assert.equal(viaEnv[0]!.body.event, 'run-finished');

    // The dead webhooks: retried, given up on, logged by name (never by URL); the run completed anyway.
    assert.equal(receiver.at('/fail/', id).length, 3, 'three attempts at the webhook answering 500');
    const warned = (name: string) =>
      logs.lines.some(
        (l) =>
          l.level === 'WARN' && l.message.includes(`notification ${name} of event run-finished for ${id}`),
      );
    await waitFor(
      'the warnings of both dead webhooks',
      () => warned('down-500') && warned('notifications[4]'),
    );
    const down = logs.lines.find((l) =>
      l.message.includes(`notification down-500 of event run-finished for ${id}`),
    );
    assert.match(down!.message, /after 3 attempt\(s\): HTTP 500; the run goes on/);
    const refused = logs.lines.find((l) =>
      l.message.includes(`notification notifications[4] of event run-finished for ${id}`),
    );
    assert.match(refused!.message, /ECONNREFUSED/);

    // No webhook URL, literal or referenced, in any history on the task queue or in any worker log line.
    const histories = await historiesText(stack.client, stack.taskQueue, id, 1);
    assert.ok(histories.includes('sendNotification'), 'the scan covers the notification activity');
    const urlParts = [
      secretTag,
      receiver.url.replace('http://', ''),
      `:${deadPort}`,
      '/ok/json',
      '/hold/circuit',
    ];
    for (const part of urlParts) {
      assert.ok(!histories.includes(part), `a webhook URL part is in a history (${urlParts.indexOf(part)})`);
      assert.ok(
        !logs.lines.some((l: WorkerLogLine) => l.text.includes(part)),
        `a webhook URL part is in a log line (${urlParts.indexOf(part)})`,
      );
    }
  });

  test('a dry run says so: dryRun in the JSON payload, "dry run" in the Slack text', async () => {
    const account = stack.account('good');
    stack.sim.seed('vbs', stack.scope('good'), vbsBackups(2, 'dry'));
    const items = [0, 1].map((i) => ({ account, id: `dry-${String(i).padStart(5, '0')}` }));
    const id = await rc.start({ items, label: 'what if' });
    const summary = await rc.result(id);
    assert.equal(summary.counts.skipped, 2);
    const [json] = receiver.at('/ok/json', id);
    assert.equal(json?.body.dryRun, true);
    assert.deepEqual(json?.body.counts, summary.counts);
    const [slack] = receiver.at('/ok/slack', id);
    assert.match(slack?.body.text as string, /^Finished: retention dry run "what if" \(/);
  });

  test('a run stopped by a guard sends run-problems with the violation as its reason', async () => {
    const account = stack.account('good');
    stack.sim.seed('vbs', stack.scope('good'), vbsBackups(3, 'grd'));
    const items = [0, 1, 2].map((i) => ({ account, id: `grd-${String(i).padStart(5, '0')}` }));
    const id = await rc.start({ items, dryRun: false, guards: { maxDeletions: 1 } });
    await assert.rejects(rc.result(id));
    const problems = receiver.at('/ok/json', id).find((r) => r.body.event === 'run-problems');
    assert.ok(problems, 'run-problems for a run that failed on a guard');
    assert.match(problems.body.reason as string, /maxDeletions/);
    assert.ok(receiver.at('/ok/json', id).some((r) => r.body.event === 'run-finished'));
    assert.equal(
      stack.sim
        .provider('vbs')
        .list(stack.scope('good'))
        .filter((b) => (b as { id: string }).id.startsWith('grd-')).length,
      3,
    );
  });

  test('a misconfigured account raises circuit-open; a webhook that does not answer delays no deletion and not the run', async () => {
    const good = stack.account('good');
    const bad = stack.account('bad');
    stack.sim.seed('vbs', stack.scope('good'), vbsBackups(10, 'ok'));
    stack.sim.seed('vbs', stack.scope('bad'), vbsBackups(10, 'mis'));
    const items = [
      ...Array.from({ length: 10 }, (_, i) => ({ account: good, id: `ok-${String(i).padStart(5, '0')}` })),
      ...Array.from({ length: 10 }, (_, i) => ({ account: bad, id: `mis-${String(i).padStart(5, '0')}` })),
    ];
    const id = await rc.start({ items, dryRun: false, label: 'with a broken account' });
    // The receiver holds the circuit-open request unanswered until the run has completed.
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted, 10, 'the healthy account deleted everything');
    assert.equal(summary.counts.failed, 10, "the misconfigured account's items failed");
    const left = stack.sim.provider('vbs').list(stack.scope('good')) as { id: string }[];
    assert.deepEqual(
      left.filter((b) => b.id.startsWith('ok-')),
      [],
      'every backup of the healthy account was deleted',
    );
    const held = receiver.at('/hold/circuit', bad);
    assert.ok(held.length >= 1, 'circuit-open reached the webhook before the run completed');
    const body = held[0]!.body;
    assert.equal(body.event, 'circuit-open');
    assert.equal(body.account, bad);
    assert.equal(body.workflowId, laneWorkflowId(bad));
    assert.match(body.reason as string, /^misconfigured: .*check accounts\..*\.endpoint/);
    assert.ok((body.runs as string[]).includes(id), 'names the run waiting on the account');

    // run-problems went to the JSON webhook with the counts.
    const problems = receiver.at('/ok/json', id).find((r) => r.body.event === 'run-problems');
    assert.ok(problems, 'run-problems for a run with failed items');
    assert.deepEqual(problems.body.counts, summary.counts);

    // Now answer it: the lane's notification completes, delivered, after the run had completed.
    receiver.release();
    const lane = stack.client.workflow.getHandle(laneWorkflowId(bad));
    const completedAt = await waitFor('the circuit-open notification to complete', async () => {
      const events = (await lane.fetchHistory()).events ?? [];
      const scheduled = events.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendNotification',
      );
      const done = events.find(
        (e) =>
          e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
          scheduled &&
          String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId),
      );
      return done
        ? {
            time: done.eventTime,
            result: asText(done.activityTaskCompletedEventAttributes?.result),
            summary: scheduled?.userMetadata?.summary
              ? defaultPayloadConverter.fromPayload<string>(scheduled.userMetadata.summary)
              : undefined,
          }
        : undefined;
    });
    assert.equal(completedAt.summary, `notify circuit-open for account ${bad}`, 'its summary in the Web UI');
    assert.match(completedAt.result, /"delivered":1/, 'delivered once released: it was still being retried');
    const runClosed = (await stack.client.workflow.getHandle(id).describe()).closeTime;
    assert.ok(runClosed, 'the run is closed');
    assert.ok(
      Number(completedAt.time!.seconds) * 1000 + Math.floor((completedAt.time!.nanos ?? 0) / 1e6) >=
        runClosed.getTime(),
      'the run completed while the circuit-open notification was still unanswered',
    );
  });

  test('a tripped circuit breaker raises circuit-open with the reason', async () => {
    const account = stack.account('cb');
    const scope = stack.scope('cb');
    stack.sim.seed('vbs', scope, vbsBackups(6, 'cb'));
    stack.sim.setFaults([
      {
        provider: 'vbs',
        method: 'DELETE',
        path: `^/v3/${scope}/backups/`,
        fault: {
          kind: 'status',
          status: 400,
          body: { error_code: 'VBS.0005', error_msg: 'injected: refused' },
        },
      },
    ]);
    try {
      const items = Array.from({ length: 6 }, (_, i) => ({
        account,
        id: `cb-${String(i).padStart(5, '0')}`,
      }));
      const id = await rc.start({ items, dryRun: false });
      const [open] = await waitFor('circuit-open for the tripped account', () => {
        const got = receiver.at('/hold/circuit', account);
        return got.length ? got : undefined;
      });
      assert.equal(open!.body.account, account);
      assert.match(
        open!.body.reason as string,
        /^\d+ of the last \d+ completed deletions failed .*; no new deletions until /,
      );
      assert.ok((open!.body.runs as string[]).includes(id));
      // The breaker holds the rest for 10 minutes: stop the run (its never-started items end skipped).
      await rc.cancel(id, 'test done');
      const summary = await rc.result(id);
      assert.ok(summary.counts.skipped > 0 && summary.counts.failed >= 1);
    } finally {
      stack.sim.setFaults([]);
    }
  });
});

describe('sendNotification without a server: failures are counted and logged without the URL', () => {
  test('a webhook answering 500, an unset { env } and a referenced value that is no URL', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const counted: { name: string; tags: MetricTags }[] = [];
    const counter = (name: string) =>
      ({
        add: (_: number, tags: MetricTags = {}) => void counted.push({ name, tags }),
      }) as unknown as MetricCounter;
    const warnings: string[] = [];
    process.env.RC_TEST_NOT_A_URL = 'hunter2-not-a-url';
    delete process.env.RC_TEST_UNSET_HOOK;
    const loaded = parseWorkerConfig(
      {
        accounts: {
          a: { provider: 'jsa', endpoint: 'https://jsa.example', credentials: { token: { env: 'T' } } },
        },
        notifications: [
          { name: 'down', url: `${receiver.url}/fail/a`, events: ['run-problems'] },
          { name: 'unset', url: { env: 'RC_TEST_UNSET_HOOK' }, events: ['run-problems'] },
          { name: 'garbage', url: { env: 'RC_TEST_NOT_A_URL' }, events: ['run-problems'] },
          { name: 'other-event', url: `${receiver.url}/ok/b`, events: ['run-finished'] },
        ],
      },
      'test',
    );
    const { activities, close } = createNotificationActivities({
      loaded,
      metrics: { notificationsDelivered: counter('delivered'), notificationsFailed: counter('failed') },
      namespace: 'default',
      timing: { attempts: 3, backoffMs: [10], attemptTimeoutMs: 5_000, deadlineMs: 20_000 },
      logger: () => ({ info: () => undefined, warn: (m) => void warnings.push(m) }),
    });
    try {
      const event: RunEvent = {
        event: 'run-problems',
        workflowId: 'wf-1',
        label: '',
        at: new Date().toISOString(),
      };
      const result = await activities.sendNotification({ event });
      assert.deepEqual(result, { matched: 3, delivered: 0, failed: 3 });
      assert.deepEqual(counted.map((c) => `${c.name} ${c.tags.notification} ${c.tags.event}`).sort(), [
        'failed down run-problems',
        'failed garbage run-problems',
        'failed unset run-problems',
      ]);
      assert.equal(receiver.at('/fail/a', 'wf-1').length, 3);
      assert.equal(
        receiver.at('/ok/b', 'wf-1').length,
        0,
        'a notification not subscribed to the event gets nothing',
      );
      const all = warnings.join('\n');
      assert.match(
        all,
        /notification down of event run-problems for wf-1 could not be delivered after 3 attempt\(s\): HTTP 500/,
      );
      assert.match(all, /notification unset .*environment variable RC_TEST_UNSET_HOOK is not set/);
      assert.match(all, /notification garbage .*not an absolute http\(s\) URL \(not shown/);
      assert.ok(!all.includes('hunter2'), 'the referenced value is not shown');
      assert.ok(!all.includes(receiver.url.replace('http://', '')), 'no URL in a warning');
    } finally {
      await close();
      await receiver.stop();
      delete process.env.RC_TEST_NOT_A_URL;
    }
  });
});

describe('notifications config: errors name the field and the fix', () => {
  const base = {
    accounts: {
      a: { provider: 'jsa', endpoint: 'https://jsa.example', credentials: { token: { env: 'T' } } },
    },
  };
  const problem = (notifications: unknown, extra: Record<string, unknown> = {}) => {
    try {
      parseWorkerConfig({ ...base, ...extra, notifications }, 'worker.yaml');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    assert.fail('the config was accepted');
  };
  test('url, events, format, name and webUiUrl', () => {
    assert.match(
      problem([{ url: 'ftp://h/x', events: ['run-finished'] }]),
      /^worker\.yaml: notifications\[0\]\.url: expected an absolute http\(s\) URL like "https:\/\/hooks\.example\.com\/\.\.\." \(or a reference like \{"env": "VAR"\}/,
    );
    assert.match(
      problem([{ url: { password: 'x' }, events: ['run-finished'] }]),
      /notifications\[0\]\.url: expected an http\(s\) URL .* or, for a URL that holds a secret, a reference like \{"env": "VAR"\}, \{"file": "\/path"\} or \{"secret": "key-in-secrets-file"\}/,
    );
    assert.match(
      problem([{ url: { env: 'X' }, events: ['run-done'] }]),
      /notifications\[0\]\.events\[0\]: expected one of "awaiting-approval", "guard-violation", "circuit-open", "run-finished", "run-problems"/,
    );
    assert.match(
      problem([{ url: { env: 'X' }, events: [] }]),
      /notifications\[0\]\.events: list at least one of/,
    );
    assert.match(problem([{ url: { env: 'X' } }]), /notifications\[0\]\.events: /);
    assert.match(
      problem([{ url: { env: 'X' }, events: ['run-finished'], format: 'teams' }]),
      /notifications\[0\]\.format: expected "json" \(the default\) or "slack"/,
    );
    assert.match(
      problem([{ url: { env: 'X' }, events: ['run-finished'], headers: {} }]),
      /notifications\[0\]: unknown field\(s\) "headers"/,
    );
    assert.match(
      problem([
        { name: 'ops', url: { env: 'X' }, events: ['run-finished'] },
        { name: 'ops', url: { env: 'Y' }, events: ['run-problems'] },
      ]),
      /notifications\[1\]\.name: "ops" is used twice; give each notification its own name/,
    );
    assert.match(
      problem([], { webUiUrl: 'temporal.example' }),
      /webUiUrl: expected the Web UI address, like "https:\/\/temporal\.example\.com"/,
    );
    const ok = parseWorkerConfig(
      { ...base, notifications: [{ url: { secret: 'hook' }, events: ['circuit-open'] }] },
      'x',
    );
    assert.equal(ok.config.notifications[0]!.format, 'json');
    assert.equal(ok.config.webUiUrl, 'http://localhost:8233');
  });
});

describe('retention-cleanup validate --config with notifications', () => {
  test('counts the notifications and warns about a reference that does not resolve here, never printing a URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-notify-validate-'));
    const path = join(dir, 'worker.yaml');
    writeFileSync(
      path,
      YAML.stringify({
        accounts: {
          a: { provider: 'jsa', endpoint: 'https://jsa.example', credentials: { token: { env: 'T' } } },
        },
        notifications: [
          { url: 'https://hooks.example.test/literal-hook-path', events: ['run-finished'] },
          {
            name: 'ops',
            url: { env: 'RC_TEST_UNSET_HOOK_FOR_VALIDATE' },
            events: ['run-problems'],
            format: 'slack',
          },
        ],
      }),
    );
    const out = await runCli(['validate', '--config', path], {
      env: { RC_TEST_UNSET_HOOK_FOR_VALIDATE: undefined },
    });
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stdout,
      /valid worker config: task queue "retention-cleanup", 1 account\(s\), 2 notification\(s\)/,
    );
    assert.match(
      out.stdout + out.stderr,
      /warning: notifications\[1\]\.url: environment variable RC_TEST_UNSET_HOOK_FOR_VALIDATE is not set here/,
    );
    assert.ok(!(out.stdout + out.stderr).includes('literal-hook-path'), 'no webhook URL is printed');
  });
});

/**
 * Observability: a worker process started as an operator would (`worker/main.ts` with a Prometheus
 * address and JSON logs) runs a small cleanup; its /metrics endpoint, scraped over HTTP, reflects the
 * outcomes, the retry after a 429, the throttle wait and the provider request latencies, next to
 * Temporal's own runtime metrics; its stderr is JSON lines naming account and item, without secrets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { freePort } from '../scripts/dev-server';
import { METRIC_NAMES } from '../worker/metrics';
import { JsonLogger, telemetrySettings } from '../worker/telemetry';
import { waitFor } from './helpers/runs';
import {
  spawnWorkerProcess,
  startStack,
  TEST_CREDENTIAL_ENV,
  vbsBackups,
  type Stack,
  type WorkerProcess,
} from './helpers/stack';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text exposition format, enough for assertions. */
function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `match`. */
function sum(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

describe('worker metrics and JSON logs', () => {
  let stack: Stack;
  let proc: WorkerProcess;
  let metricsUrl: string;
  const stderr: string[] = [];

  before(async () => {
    stack = await startStack({ a: { provider: 'vbs' }, b: { provider: 'vbs' } }, { worker: false });
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    proc = await spawnWorkerProcess(stack, {
      args: ['--metrics-address', `127.0.0.1:${port}`],
      env: { RETENTION_LOG_FORMAT: 'json', RETENTION_LOG_LEVEL: 'INFO' },
    });
    proc.child.stderr!.on('data', (d: Buffer) => void stderr.push(d.toString()));
  });
  after(async () => {
    await proc?.stop();
    await stack?.stop();
  });

  test('a small cleanup shows in our counters and Temporal runtime metrics, scraped over HTTP', async () => {
    const a = stack.account('a');
    const b = stack.account('b');
    const aBackups = vbsBackups(5, 'ma');
    const bBackups = vbsBackups(3, 'mb');
    stack.sim.seed('vbs', stack.scope('a'), [
      ...aBackups,
      { ...vbsBackups(1, 'img')[0], sim: { usedForImage: true } },
    ]);
    stack.sim.seed('vbs', stack.scope('b'), bBackups);
    // The first delete call is throttled (429, Retry-After 1 s): one retry, one throttle wait.
    stack.sim.setFaults([
      {
        provider: 'vbs',
        method: 'DELETE',
        times: 1,
        fault: { kind: 'status', status: 429, retryAfter: '1' },
      },
    ]);
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const items = [
      ...aBackups.map((x) => ({ account: a, id: x.id })),
      { account: a, id: 'img-00000' },
      { account: a, id: 'gone-1' },
      // b's items carry the size their listing gave (as a policy run's do), a's none: bytes are
      // counted for b only, never as 0 for a size nobody knows.
      ...bBackups.map((x, i) => ({ account: b, id: x.id, sizeBytes: (i + 1) * 1_000_000_007 })),
    ];
    const summary = await rc.result(await rc.start({ items, dryRun: false }));
    assert.deepEqual(summary.counts, { deleted: 8, absent: 1, blocked: 1, failed: 0, skipped: 0 });

    const n = METRIC_NAMES;
    // Core exports on scrape; a just-recorded value may take a moment to show.
    const samples = await waitFor(
      'the metrics endpoint to show every outcome',
      async () => {
        const res = await fetch(metricsUrl);
        assert.equal(res.status, 200);
        const s = parsePrometheus(await res.text());
        // Bytes are added right after their outcome: wait for both.
        return sum(s, n.outcomes) === 10 && sum(s, n.bytesDeleted) > 0 ? s : undefined;
      },
      15_000,
      250,
    );
    assert.equal(sum(samples, n.outcomes, { account: a, provider: 'vbs', outcome: 'deleted' }), 5);
    assert.equal(sum(samples, n.outcomes, { account: a, provider: 'vbs', outcome: 'blocked' }), 1);
    assert.equal(sum(samples, n.outcomes, { account: a, provider: 'vbs', outcome: 'absent' }), 1);
    assert.equal(sum(samples, n.outcomes, { account: b, provider: 'vbs', outcome: 'deleted' }), 3);
    assert.equal(sum(samples, n.bytesDeleted, { account: b, provider: 'vbs' }), 6_000_000_042);
    assert.equal(sum(samples, n.bytesDeleted, { account: a }), 0, 'no sizes, no bytes');
    assert.equal(sum(samples, n.inFlight, { account: a }), 0, 'nothing in flight after the run');
    assert.equal(sum(samples, n.inFlight, { account: b }), 0);

    assert.equal(sum(samples, n.throttled, { provider: 'vbs' }), 1, 'one 429 seen');
    assert.equal(
      sum(samples, n.retries, { activity: 'deleteBackup', provider: 'vbs' }),
      1,
      'one retried deletion',
    );
    assert.equal(
      sum(samples, n.attemptFailures, {
        activity: 'deleteBackup',
        error_type: 'ProviderTransient',
        retryable: 'true',
      }),
      1,
    );
    assert.equal(
      sum(samples, n.throttleWaitMs, { provider: 'vbs' }),
      1000,
      'Retry-After 1 s became the wait',
    );

    const count = `${n.requestDuration}_count`;
    assert.equal(
      sum(samples, count, { provider: 'vbs', method: 'DELETE', status_class: '2xx' }),
      8,
      'accepted deletes timed',
    );
    assert.equal(
      sum(samples, count, { provider: 'vbs', method: 'DELETE', status_class: '4xx' }),
      3,
      '429, blocked and absent',
    );
    assert.equal(
      sum(samples, count, { provider: 'vbs', method: 'GET', status_class: '4xx' }),
      8,
      'polls that found the backup gone',
    );
    assert.equal(
      sum(samples, count, { provider: 'vbs', method: 'POST', status_class: '2xx' }),
      2,
      'one IAM token per account',
    );
    assert.ok(sum(samples, `${n.requestDuration}_bucket`, { le: '+Inf' }) > 0, 'histogram buckets exported');
    assert.ok(sum(samples, `${n.attemptDuration}_count`, { provider: 'vbs', result: 'deleted' }) === 8);

    // Temporal's runtime metrics come from the same endpoint.
    for (const name of [
      'temporal_activity_execution_latency_count',
      'temporal_workflow_task_execution_latency_count',
      'temporal_num_pollers',
    ]) {
      assert.ok(
        samples.some((s) => s.name === name),
        `Temporal runtime metric ${name} present`,
      );
    }
    // Deletions run alone or in groups of items started together (see activities/deletion/group.ts).
    assert.ok(
      sum(samples, 'temporal_activity_execution_latency_count', { activity_type: 'deleteBackup' }) +
        sum(samples, 'temporal_activity_execution_latency_count', { activity_type: 'deleteBackups' }) >=
        2,
    );
  });

  test('worker logs are JSON lines with run, account and item ids, and no credentials', async () => {
    const linesNow = () =>
      stderr
        .join('')
        .split('\n')
        .filter((l) => l.trim());
    // stderr is a pipe: the last lines may still be on their way.
    await waitFor(
      'ten "deletion finished" lines',
      () => linesNow().filter((l) => l.includes('"deletion finished"')).length >= 10,
      10_000,
    );
    const lines = linesNow();
    assert.ok(lines.length > 0, 'the worker logged');
    const records = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return assert.fail(`not a JSON line: ${l}`);
      }
    });
    for (const r of records)
      assert.ok(typeof r.time === 'string' && typeof r.level === 'string' && typeof r.msg === 'string');
    const finished = records.filter((r) => r.msg === 'deletion finished');
    assert.equal(finished.length, 10, 'one "deletion finished" line per item');
    for (const r of finished) {
      assert.ok(r.account === stack.account('a') || r.account === stack.account('b'));
      assert.equal(r.provider, 'vbs');
      assert.equal(typeof r.itemId, 'string');
      assert.match(String(r.workflowId), /^retention-cleanup-lane\//, 'the lane execution that ran it');
      assert.equal(typeof r.workflowRunId, 'string');
      assert.equal(typeof r.outcome, 'string');
    }
    const failed = records.find((r) => r.msg === 'Activity failed');
    assert.ok(failed, "the SDK's own failure line (the 429) is there");
    assert.equal(typeof failed.itemId, 'string', 'and carries the item');
    const text = lines.join('\n');
    assert.ok(!text.includes(TEST_CREDENTIAL_ENV.RC_TEST_PASSWORD), 'no password in the logs');
    assert.ok(!/MII[0-9a-f]{20}/.test(text), 'no IAM token in the logs');
  });

  test('telemetry settings: flags before the environment, clear errors', () => {
    assert.deepEqual(telemetrySettings({ metricsPort: '9464' }, {}), {
      metricsAddress: '0.0.0.0:9464',
      logFormat: 'text',
      logLevel: 'INFO',
    });
    assert.equal(
      telemetrySettings({}, { RETENTION_METRICS_ADDRESS: '127.0.0.1:9000' }).metricsAddress,
      '127.0.0.1:9000',
    );
    assert.equal(telemetrySettings({}, { RETENTION_METRICS_ADDRESS: '9100' }).metricsAddress, '0.0.0.0:9100');
    assert.equal(telemetrySettings({}, {}).metricsAddress, undefined);
    assert.throws(() => telemetrySettings({ metricsPort: 'x' }, {}), /--metrics-port: expected a port/);
    assert.throws(() => telemetrySettings({}, { RETENTION_LOG_FORMAT: 'xml' }), /RETENTION_LOG_FORMAT/);
    const out: string[] = [];
    new JsonLogger('INFO', (l) => void out.push(l)).info('hello', {
      password: 'p',
      apiKey: 'k',
      account: 'x',
      err: new Error('boom'),
    });
    new JsonLogger('INFO', (l) => void out.push(l)).debug('filtered out');
    assert.equal(out.length, 1);
    const r = JSON.parse(out[0]!) as Record<string, unknown>;
    assert.equal(r.password, '[redacted]');
    assert.equal(r.apiKey, '[redacted]');
    assert.equal(r.account, 'x');
    assert.equal((r.err as { message: string }).message, 'boom');
  });
});

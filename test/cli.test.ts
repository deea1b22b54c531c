/**
 * The `retention-cleanup` CLI, run as a child process against the real dev server and a worker of
 * this test's stack: stdout, stderr and exit codes as a user (or a script) sees them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import { CSV_COLUMNS, parseCsvReport, type ReportSummary } from '../client/report';
import { RetentionClient, type RunStatus } from '../client/retention-client';
import type { RunSummary } from '../contract/messages';
import { runCli, show, spawnCli } from './helpers/run-cli';
import { reportOf, waitFor } from './helpers/runs';
import { startStack, temporalAddress, vbsBackups, type Stack } from './helpers/stack';

describe('CLI', () => {
  let stack: Stack;
  let rc: RetentionClient;
  let dir: string;
  /** A finished run with deleted, absent and blocked items, for status and report. */
  let mixedRunId: string | undefined;

  const env = () => ({ TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_NAMESPACE: 'default' });
  const cli = (args: string[], opts: { env?: Record<string, string | undefined> } = {}) =>
    runCli(args, { env: { ...env(), ...opts.env } });
  const tq = () => ['--task-queue', stack.taskQueue];
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return path;
  };
  const deletesSoFar = () => stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0;
  const present = (ids: string[]) => {
    const listed = new Set(
      stack.sim
        .provider('vbs')
        .list(stack.scope('vbs'))
        .map((b) => (b as { id: string }).id),
    );
    return ids.filter((id) => listed.has(id));
  };

  before(async () => {
    stack = await startStack({ vbs: { provider: 'vbs' } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
    dir = mkdtempSync(join(tmpdir(), 'rc-cli-'));
  });
  after(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('start without --execute is a dry run, even when the file says dryRun: false', async () => {
    const backups = vbsBackups(5, 'cli-dry');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const account = stack.account('vbs');
    const req = file('dry.json', {
      label: 'cli dry',
      dryRun: false,
      items: backups.map((b) => ({ account, id: b.id })),
    });
    const before = deletesSoFar();

    const r = await cli(['start', req, ...tq()]);
    assert.equal(r.code, 0, show(r));
    const workflowId = r.stdout.trim();
    assert.match(workflowId, /^retention-cleanup\/cli-dry-[0-9a-f]{8}$/, show(r));
    assert.match(r.stderr, /dry run: nothing will be deleted/);
    assert.match(r.stderr, /"dryRun": false is ignored without --execute/);

    const summary = await rc.result(workflowId);
    assert.equal(summary.dryRun, true);
    assert.equal(summary.counts.skipped, 5);
    assert.equal(deletesSoFar(), before, 'no DELETE reached the simulator');
    assert.equal(present(backups.map((b) => b.id)).length, 5, 'every backup is still there');
  });

  test('start --execute --follow deletes, shows progress, prints the summary table and exits 0', async () => {
    const backups = vbsBackups(30, 'cli-exec');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const account = stack.account('vbs');
    const req = file(
      'exec.yaml',
      YAML.stringify({ label: 'cli exec', items: backups.map((b) => ({ account, id: b.id })) }),
    );

    const r = await cli(['start', req, '--execute', '--follow', '--interval', '200ms', ...tq()]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /--execute: backups will be DELETED/);
    assert.match(r.stderr, /started EXECUTE run retention-cleanup\/cli-exec-/);
    // Not a terminal: progress comes as whole lines on stderr.
    assert.match(r.stderr, /(running|starting) .*\[[#-]+\] +\d+% +\d+\/30/, show(r));
    assert.match(r.stdout, /^Run retention-cleanup\/cli-exec-[0-9a-f]{8}: finished$/m);
    assert.match(r.stdout, /ACCOUNT +PROVIDER +DELETED +ABSENT +BLOCKED +FAILED +SKIPPED +TOTAL/);
    assert.match(r.stdout, new RegExp(`^${stack.account('vbs')} +vbs +30 +0 +0 +0 +0 +30$`, 'm'), show(r));
    assert.match(r.stdout, /^TOTAL +30 +0 +0 +0 +0 +30$/m);
    assert.doesNotMatch(r.stdout, /DRY RUN/);
    assert.deepEqual(present(backups.map((b) => b.id)), [], 'every backup was deleted');
  });

  test('start --execute --follow --json exits 1 when an item is blocked; status says the same', async () => {
    const [ok] = vbsBackups(1, 'cli-ok');
    const [image] = vbsBackups(1, 'cli-image', { sim: { usedForImage: true } });
    stack.sim.seed('vbs', stack.scope('vbs'), [ok, image]);
    const account = stack.account('vbs');
    const req = file('mixed.json', {
      label: 'cli mixed',
      items: [
        { account, id: ok!.id },
        { account, id: image!.id },
        { account, id: 'cli-never-existed' },
        { account, id: ok!.id }, // a duplicate, merged
      ],
    });

    const r = await cli(['start', req, '--execute', '--follow', '--json', '--interval', '200ms', ...tq()]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /1 duplicate item\(s\) merged/);
    const summary = JSON.parse(r.stdout) as RunSummary;
    assert.deepEqual(summary.counts, { deleted: 1, absent: 1, blocked: 1, failed: 0, skipped: 0 });
    assert.equal(summary.firstProblems.length, 1);
    assert.equal(summary.firstProblems[0]!.id, image!.id);
    assert.match(summary.firstProblems[0]!.reason, /VolumeBackup\.0113/);
    mixedRunId = summary.workflowId;

    const status = await cli(['status', mixedRunId]);
    assert.equal(status.code, 1, show(status));
    assert.match(status.stdout, /Problems: 0 failed, 1 blocked/);
    assert.match(status.stdout, new RegExp(`blocked +${account}/${image!.id} +.*VolumeBackup\\.0113`));

    const statusJson = await cli(['status', mixedRunId, '--json']);
    assert.equal(statusJson.code, 1, show(statusJson));
    const st = JSON.parse(statusJson.stdout) as RunStatus;
    assert.equal(st.status, 'COMPLETED');
    assert.equal(st.summary?.counts.blocked, 1);
  });

  test('report writes every item outcome as JSON Lines and as CSV', async () => {
    assert.ok(mixedRunId, 'needs the run of the previous test');
    const expected = await reportOf(rc, mixedRunId);
    assert.equal(expected.length, 3);

    const jsonl = await cli(['report', mixedRunId]);
    assert.equal(jsonl.code, 0, show(jsonl));
    const [summaryLine, ...lines] = jsonl.stdout.trim().split('\n');
    // The first line is the run's summary (test/report-says-why.test.ts checks every field).
    assert.deepEqual(
      (({ type, workflowId, total, counts }) => ({ type, workflowId, total, counts }))(
        JSON.parse(summaryLine!) as ReportSummary,
      ),
      {
        type: 'summary',
        workflowId: mixedRunId,
        total: 3,
        counts: { deleted: 1, absent: 1, blocked: 1, failed: 0, skipped: 0 },
      },
    );
    assert.deepEqual(
      lines.map((l) => JSON.parse(l) as unknown),
      expected,
    );
    assert.match(jsonl.stderr, /3 outcome\(s\)/);

    const csvPath = join(dir, 'report.csv');
    const csv = await cli(['report', mixedRunId, '--output', csvPath]);
    assert.equal(csv.code, 0, show(csv));
    assert.match(csv.stderr, /3 outcome\(s\) written to .*report\.csv \(csv\)/);
    const text = readFileSync(csvPath, 'utf8');
    const { summary, header, rows } = parseCsvReport(text);
    assert.equal(summary.workflowId, mixedRunId);
    assert.equal(summary.blocked, '1');
    assert.deepEqual(header, [...CSV_COLUMNS]);
    assert.equal(
      CSV_COLUMNS.join(','),
      'account,id,checkpointId,outcome,reason,code,at,sizeBytes,decidedBy',
      'new columns only ever come last',
    );
    assert.deepEqual(
      rows,
      expected.map((o) =>
        CSV_COLUMNS.map((c) => (c === 'sizeBytes' ? (o.sizeBytes?.toString() ?? '') : (o[c] ?? ''))),
      ),
    );
    const blocked = rows.find((r) => r[3] === 'blocked')!;
    assert.match(blocked[4]!, /VolumeBackup\.0113/);

    const explicit = await cli(['report', mixedRunId, '--format', 'csv']);
    assert.equal(explicit.stdout, text);

    const bad = await cli(['report', mixedRunId, '--format', 'xml']);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /--format: expected jsonl or csv/);
  });

  test('validate: requests and worker configs, exit codes, one problem per line naming the field', async () => {
    const account = stack.account('vbs');
    const good = await cli([
      'validate',
      file('good.json', {
        items: [
          { account, id: 'a' },
          { account, id: 'a' },
          { account, id: 'b' },
        ],
      }),
    ]);
    assert.equal(good.code, 0, show(good));
    assert.match(good.stdout, /valid cleanup request: 2 item\(s\) \(1 duplicate\(s\) merged\)/);

    const badReq = file('bad.json', {
      items: [
        { account, ids: 'x' },
        { account: 'bad name!', id: 'y' },
      ],
      dryRun: 'no',
    });
    const bad = await cli(['validate', badReq]);
    assert.equal(bad.code, 2, show(bad));
    const problems = bad.stderr.split('\n').filter((l) => l.startsWith('  '));
    assert.ok(
      problems.some((l) => /^ {2}items\[0\]\.id: /.test(l)),
      show(bad),
    );
    assert.ok(
      problems.some((l) => /^ {2}items\[0\]: unknown field\(s\) "ids"/.test(l)),
      show(bad),
    );
    assert.ok(
      problems.some((l) => /^ {2}items\[1\]\.account: account names use/.test(l)),
      show(bad),
    );
    assert.ok(
      problems.some((l) => /^ {2}dryRun: expected true or false/.test(l)),
      show(bad),
    );

    const badJson = await cli(['validate', badReq, '--json']);
    assert.equal(badJson.code, 2);
    assert.equal((JSON.parse(badJson.stdout) as { valid: boolean }).valid, false);

    const configPath = file('config.yaml', YAML.stringify(stack.configObject));
    const cfg = await cli(['validate', '--config', configPath], { env: { RC_TEST_USER: undefined } });
    assert.equal(cfg.code, 0, show(cfg));
    assert.match(cfg.stdout, /valid worker config: task queue "unused", 1 account\(s\)/);
    assert.match(
      cfg.stdout,
      new RegExp(`${account}: vbs at http://127\\.0\\.0\\.1:\\d+/vbs, max 20 concurrent`),
    );
    assert.match(
      cfg.stderr,
      new RegExp(
        `warning: accounts\\.${account}\\.credentials\\.username: environment variable RC_TEST_USER is not set`,
      ),
    );
    assert.doesNotMatch(cfg.stdout + cfg.stderr, /sim-password/, 'no secret is ever printed');

    const broken = structuredClone(stack.configObject) as {
      accounts: Record<string, Record<string, unknown>>;
    };
    const acc = broken.accounts[account]!;
    delete acc.endpoint;
    acc.limits = { maxConcurrent: 0 };
    broken.accounts['second'] = { provider: 'vbss' };
    const badCfg = await cli(['validate', '--config', file('bad-config.yaml', YAML.stringify(broken))]);
    assert.equal(badCfg.code, 2, show(badCfg));
    assert.match(badCfg.stderr, new RegExp(`^ {2}accounts\\.${account}\\.endpoint: `, 'm'));
    assert.match(badCfg.stderr, new RegExp(`^ {2}accounts\\.${account}\\.limits\\.maxConcurrent: `, 'm'));
    assert.match(badCfg.stderr, /^ {2}accounts\.second\.provider: expected "provider" to be one of/m);

    const swapped = await cli(['validate', configPath]);
    assert.equal(swapped.code, 2);
    assert.match(swapped.stderr, /looks like a worker config: add --config/);

    const missing = await cli(['validate', join(dir, 'nope.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read request file .*nope\.json/);

    const notJson = await cli(['validate', file('broken.json', '{"items": [')]);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /not valid JSON/);
  });

  test('a bad request fails before Temporal is contacted; an unreachable Temporal exits 3', async () => {
    const unreachable = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const bad = await cli(['start', file('bad-start.json', { items: [{ account: 'a' }] }), '--execute'], {
      env: unreachable,
    });
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /items\[0\]\.id/);
    assert.doesNotMatch(bad.stderr, /cannot reach Temporal/);

    const good = file('good-start.json', { items: [{ account: 'a', id: 'b' }] });
    const down = await cli(['start', good, '--connect-timeout', '500ms'], { env: unreachable });
    assert.equal(down.code, 3, show(down));
    assert.match(down.stderr, /cannot reach Temporal at 127\.0\.0\.1:1/);

    const flag = await cli(['status', 'x', '--address', '127.0.0.1:1', '--connect-timeout', '500ms']);
    assert.equal(flag.code, 3, show(flag));
    assert.match(flag.stderr, /cannot reach Temporal at 127\.0\.0\.1:1/);
  });

  test('status, pause, resume and cancel on a running run', async () => {
    // Slow deletions (10 rounds of 10 s at the stack's concurrency of 20), so the status and the pause
    // arrive while most items are still queued even on a loaded machine where each CLI call takes
    // seconds. The cancel is sent while the run is paused again: it cannot have finished by then.
    stack.sim.setTimings({ deleteMs: { vbs: 10_000 } });
    try {
      const backups = vbsBackups(200, 'cli-ctl');
      stack.sim.seed('vbs', stack.scope('vbs'), backups);
      const account = stack.account('vbs');
      const id = await rc.start({
        label: 'cli control',
        dryRun: false,
        items: backups.map((b) => ({ account, id: b.id })),
      });

      const running = await cli(['status', id, '--json']);
      assert.equal(running.code, 0, show(running));
      const st = JSON.parse(running.stdout) as RunStatus;
      assert.equal(st.status, 'RUNNING');
      assert.equal(st.progress?.total, 200);
      assert.equal(st.progress?.dryRun, false);

      const paused = await cli(['pause', id, '--reason', 'maintenance window']);
      assert.equal(paused.code, 0, show(paused));
      assert.match(paused.stderr, /pause requested/);
      await waitFor('the run to pause', async () => (await rc.getProgress(id)).state === 'paused', 20_000);
      const text = await cli(['status', id]);
      assert.equal(text.code, 0, show(text));
      assert.match(text.stdout, /^State: +paused$/m);
      assert.match(text.stdout, /^Progress: +\[[#-]+\] \d+% +\d+ of 200$/m);

      const resumed = await cli(['resume', id]);
      assert.equal(resumed.code, 0, show(resumed));
      await waitFor('the run to resume', async () => (await rc.getProgress(id)).state === 'running', 20_000);
      await rc.pause(id);
      await waitFor(
        'the run to pause again',
        async () => (await rc.getProgress(id)).state === 'paused',
        20_000,
      );

      const cancelled = await cli(['cancel', id, '--reason', 'test']);
      assert.equal(cancelled.code, 0, show(cancelled));
      const summary = await rc.result(id);
      assert.equal(summary.cancelled, true);
      assert.equal(summary.total, 200);
      assert.equal(summary.counts.failed + summary.counts.blocked, 0);

      const done = await cli(['status', id]);
      assert.equal(done.code, 0, show(done));
      assert.match(done.stdout, /CANCELLED/);

      const late = await cli(['pause', id]);
      assert.equal(late.code, 2, show(late));
      assert.match(late.stderr, /no such run|already completed/);
    } finally {
      stack.sim.setTimings({ deleteMs: { vbs: 300 } });
    }
  });

  test('usage: --help everywhere, unknown commands and runs, missing arguments', async () => {
    for (const args of [
      ['--help'],
      ['start', '--help'],
      ['status', '-h'],
      ['report', '--help'],
      ['validate', '--help'],
      ['schedule', '--help'],
      ['schedule', 'create', '--help'],
      ['worker', '--help'],
      ['simulate', '--help'],
      ['dev', '--help'],
      ['pause', '--help'],
      ['resume', '--help'],
      ['cancel', '--help'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${show(r)}`);
      assert.match(r.stdout, /^usage: retention-cleanup/, args.join(' '));
    }
    const none = await cli([]);
    assert.equal(none.code, 2);
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const noFile = await cli(['start']);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /missing <request-file>/);
    const badCache = await cli(['worker', '--config', 'unused.yaml', '--max-cached-workflows', 'lots']);
    assert.equal(badCache.code, 2, show(badCache));
    assert.match(badCache.stderr, /--max-cached-workflows .*whole number.*"lots"/);
    const badFlag = await cli(['status', 'x', '--bogus']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--bogus/);
    const noRun = await cli(['status', 'retention-cleanup/no-such-run']);
    assert.equal(noRun.code, 2, show(noRun));
    assert.match(noRun.stderr, /no such run/);
  });

  test('simulate serves the providers and the admin API until SIGINT', async () => {
    const child = spawnCli(['simulate', '--port', '0']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((done) => child.once('close', (c: number | null) => done(c)));
    const url = await waitFor(
      'the simulator URL',
      () => /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1],
      30_000,
    );
    // The banner arrives in several writes: wait for its last line before reading it.
    await waitFor('the full banner', () => out.includes('/_admin/reset'), 30_000);
    assert.match(out, /GET +http:\/\/127\.0\.0\.1:\d+\/_admin\/counters/);
    const res = await fetch(`${url}/_admin/counters`);
    assert.equal(res.status, 200);
    assert.ok('maxConcurrentDeletions' in ((await res.json()) as object));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  });
});

/**
 * The secrets file (worker/secrets-file.ts): a malformed file never puts its lines into an error, a
 * warning, a history or a report (the YAML parser's own messages quote the offending line), and a
 * rotated secret is used without restarting the worker, for Huawei (IAM password), JSA (SEC token) and
 * Veeam (password grant), while an unusable new version keeps the last good one and says so without
 * content.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import type { JsaSim } from '../simulator/jsa';
import type { VeeamSim } from '../simulator/veeam';
import { parseWorkerConfig } from '../worker/config';
import { READ_AGAIN_MS, SecretsFile } from '../worker/secrets-file';
import { reportOf, waitFor } from './helpers/runs';
import { captureStdio, historiesText, leakForms, leaksIn } from './helpers/secret-scan';
import { captureWorkerLogs, startStack, TEST_CREDENTIAL_ENV, vbsBackups, type Stack } from './helpers/stack';

const TAG = randomBytes(8).toString('hex');
/** A secret nobody may ever see, and everything it can look like. */
const marker = (name: string) => `rcsec-${name}-${TAG}`;
const formsOf = (...secrets: string[]) => secrets.flatMap(leakForms);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'rc-secrets-'));
}

/** Process warnings emitted while `fn` runs (the YAML library emits some that quote the file). */
async function warningsDuring(fn: () => void): Promise<string[]> {
  const seen: string[] = [];
  const listener = (w: Error) => void seen.push(`${w.name} ${w.message}`);
  process.on('warning', listener);
  try {
    fn();
    await new Promise((r) => setImmediate(r)); // process warnings are emitted on a later tick
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

/** The message of the error `fn` throws; fails when it throws none. */
function errorOf(fn: () => unknown, what: string): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return assert.fail(`no error for ${what}`);
}

describe('secrets file: errors name the file, line and column, never the content', () => {
  test('each kind of YAML mistake is described in general terms, with no text of the file', async () => {
    const dir = tempDir();
    const path = join(dir, 'secrets.yaml');
    const m = marker('syntax');
    const cases: [string, RegExp][] = [
      // A password holding ": " unquoted, the most likely mistake.
      [`vbs-password: ${m}: tail\n`, /line 1, column \d+: a value holds ": " \(quote the value\)/],
      [`ok: fine\nvbs-password: "${m}\n`, /line \d+, column \d+: a closing quote or bracket is missing/],
      [`ok: fine\n\tvbs-password: ${m}\n`, /line 2, column 1: a tab used for indentation/],
      [`vbs-password: ${m}\nvbs-password: ${m}\n`, /line 2, column 1: a key appears twice/],
      [`vbs-password: "${m}\\q"\n`, /line 1, column \d+: an invalid backslash escape/],
      [`vbs-password: @${m}\n`, /line 1, column \d+: a value starts with a reserved character/],
      [`- ${m}\n`, /expected "key: secret" lines \(a mapping\), found a list/],
      [`${m}\n`, /found a single text value/],
      // Not a syntax error, but the YAML library warns about it quoting the line: no warning here.
      [`vbs-password: !custom ${m}\nother: [`, /line 2, column \d+: /],
    ];
    const stdio = captureStdio();
    try {
      for (const [text, expected] of cases) {
        const what = JSON.stringify(text);
        writeFileSync(path, text);
        let message = '';
        const warnings = await warningsDuring(() => {
          message = errorOf(() => new SecretsFile(path).get('vbs-password'), what);
        });
        assert.ok(message.startsWith(`secrets file ${path}: `), message);
        assert.match(message, expected, what);
        assert.deepEqual(leaksIn(formsOf(m), { message, warnings: warnings.join('\n') }), [], what);
      }
    } finally {
      stdio.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(leaksIn(formsOf(m), { 'stdout/stderr': stdio.text() }), []);
  });

  test('a value that is not text is refused naming the key and its kind, never the value', () => {
    const dir = tempDir();
    const path = join(dir, 'secrets.yaml');
    const digits = String(100_000_000 + Math.floor(Math.random() * 800_000_000));
    writeFileSync(
      path,
      `pin: ${digits}\nflag: true\nnested: {a: "${marker('nested')}"}\nlist: ["${marker('list')}"]\nnone:\nempty: ""\n`,
    );
    const file = new SecretsFile(path);
    const expected: [string, RegExp][] = [
      ['pin', /the value of key "pin" is a number, not text; quote it \(pin: "\.\.\."\)/],
      ['flag', /the value of key "flag" is a boolean, not text/],
      ['nested', /the value of key "nested" is a mapping, not text/],
      ['list', /the value of key "list" is a list, not text/],
      ['none', /the value of key "none" is no value, not text/],
      ['empty', /the value of key "empty" is empty/],
      ['missing', /has no key "missing"/],
    ];
    for (const [key, re] of expected) {
      assert.throws(
        () => file.get(key),
        (e: unknown) => {
          const message = (e as Error).message;
          assert.match(message, re);
          assert.deepEqual(
            leaksIn([digits, ...formsOf(marker('nested'), marker('list'))], { message }),
            [],
            key,
          );
          return true;
        },
      );
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('a changed file is read again; an unusable new version keeps the last good one, with one warning and no content', () => {
    const dir = tempDir();
    const path = join(dir, 'secrets.yaml');
    let now = 1_000_000;
    const warnings: string[] = [];
    const file = new SecretsFile(
      path,
      (w) => warnings.push(w),
      () => now,
    );
    writeFileSync(path, 'pw: first-password\n');
    assert.equal(file.get('pw'), 'first-password');

    writeFileSync(path, 'pw: second-password-x\n');
    assert.equal(file.get('pw'), 'second-password-x', 'a new size and mtime are noticed at once');

    const m = marker('broken');
    writeFileSync(path, `pw: ${m}: oops\n`);
    assert.equal(file.get('pw'), 'second-password-x', 'the last good version stays in use');
    assert.equal(file.get('pw'), 'second-password-x');
    assert.equal(warnings.length, 1, 'one warning for one problem');
    assert.match(warnings[0]!, /not valid YAML at line 1, column \d+: .*still using the version read at/);
    assert.throws(
      () => file.get('other'),
      /has no key "other" \(in the last good version; the current one is unusable: .*line 1/,
    );

    rmSync(path);
    assert.equal(
      file.get('pw'),
      'second-password-x',
      'a file gone for a moment (a symlink swap) keeps the last good one',
    );
    assert.equal(warnings.length, 2);
    assert.match(warnings[1]!, /cannot read it \(ENOENT\)/);

    writeFileSync(path, 'pw: third-password-xx\n');
    assert.equal(file.get('pw'), 'third-password-xx');
    // Same size and (on a coarse file system) the same timestamps: still read again after READ_AGAIN_MS.
    writeFileSync(path, 'pw: third-password-yy\n');
    now += READ_AGAIN_MS;
    assert.equal(file.get('pw'), 'third-password-yy');
    assert.deepEqual(leaksIn(formsOf(m), { warnings: warnings.join('\n') }), []);
    rmSync(dir, { recursive: true, force: true });
  });

  test('through the config: {"secret": key} reads the file at call time; without a usable version it is an error naming the file', () => {
    const dir = tempDir();
    const secretsPath = join(dir, 'secrets.yaml');
    const loaded = parseWorkerConfig(
      {
        secretsFile: 'secrets.yaml',
        accounts: {
          a: {
            provider: 'jsa',
            endpoint: 'https://jsa.example',
            credentials: { token: { secret: 'jsa-token' } },
          },
        },
      },
      'config.yaml',
      dir,
    );
    assert.throws(
      () => loaded.secret({ secret: 'jsa-token' }),
      /secrets file .*secrets\.yaml: cannot read it \(ENOENT\)/,
    );
    writeFileSync(secretsPath, 'jsa-token: one\n');
    assert.equal(loaded.secret({ secret: 'jsa-token' }), 'one');
    writeFileSync(secretsPath, 'jsa-token: two-two\n');
    assert.equal(loaded.secret({ secret: 'jsa-token' }), 'two-two');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('a run whose secrets file is malformed', () => {
  const m = marker('malformed-run');
  let stack: Stack;
  let dir: string;
  const logs = captureWorkerLogs();

  before(async () => {
    dir = tempDir();
    // The password holds ": " unquoted: YAML's own message would quote this whole line.
    writeFileSync(join(dir, 'secrets.yaml'), `vbs-password: ${m}: second-half\n`);
    stack = await startStack(
      {
        vbs: {
          provider: 'vbs',
          credentials: { username: { env: 'RC_TEST_USER' }, password: { secret: 'vbs-password' } },
          limits: { maxAttempts: 2 },
        },
      },
      { config: { secretsFile: join(dir, 'secrets.yaml') } },
    );
  });
  after(async () => {
    logs.stop();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('items fail naming the file, line and column; the secret is in no history, log, output or report', async () => {
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const backups = vbsBackups(2, 'malformed');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const stdio = captureStdio();
    let runId: string;
    let report: Awaited<ReturnType<typeof reportOf>>;
    let summaryText: string;
    try {
      runId = await rc.start({
        items: backups.map((b) => ({ account: stack.account('vbs'), id: b.id })),
        dryRun: false,
        label: 'malformed secrets file',
      });
      const summary = await rc.result(runId);
      summaryText = JSON.stringify(summary);
      assert.deepEqual(summary.counts, { deleted: 0, absent: 0, blocked: 0, failed: 2, skipped: 0 });
      report = await reportOf(rc, runId);
    } finally {
      stdio.stop();
    }
    for (const o of report) {
      assert.equal(o.outcome, 'failed');
      assert.match(
        o.reason,
        /SecretsFileError: secrets file .*secrets\.yaml: not valid YAML at line 1, column \d+: a value holds ": " \(quote the value\); the content is not shown/,
      );
    }
    assert.equal(stack.sim.ctx.counters.snapshot().requests['iam POST'] ?? 0, 0, 'no login was tried');

    const historyText = await historiesText(stack.client, stack.taskQueue, runId!, 1);
    assert.match(historyText, /not valid YAML at line 1/, 'the failures are in the histories searched');
    const logText = logs.lines.map((l) => l.text).join('\n');
    assert.match(logText, /not valid YAML at line 1/, 'the failed attempts are in the logs searched');
    assert.deepEqual(
      leaksIn(formsOf(m), {
        histories: historyText,
        'worker logs': logText,
        'stdout/stderr': stdio.text(),
        report: JSON.stringify(report!),
        summary: summaryText!,
      }),
      [],
      'the secret appeared in these places',
    );
  });
});

describe('rotated secrets are used without restarting the worker (Huawei IAM, JSA, Veeam)', () => {
  const OLD = { vbs: marker('vbs-old'), jsa: marker('jsa-old'), veeam: marker('veeam-old') };
  const NEW = { vbs: marker('vbs-new'), jsa: marker('jsa-new'), veeam: marker('veeam-new') };
  const BROKEN = marker('broken-version');
  const USER = TEST_CREDENTIAL_ENV.RC_TEST_USER;
  let stack: Stack;
  let dir: string;
  let secretsPath: string;
  const logs = captureWorkerLogs();
  const secretsYaml = (s: typeof OLD) =>
    `vbs-password: "${s.vbs}"\njsa-token: "${s.jsa}"\nveeam-password: "${s.veeam}"\n`;

  before(async () => {
    dir = tempDir();
    secretsPath = join(dir, 'secrets.yaml');
    writeFileSync(secretsPath, secretsYaml(OLD));
    // Held deletions are retried for a while: a budget that the hold cannot use up on a slow machine.
    const limits = { maxAttempts: 100 };
    stack = await startStack(
      {
        vbs: {
          provider: 'vbs',
          credentials: { username: { env: 'RC_TEST_USER' }, password: { secret: 'vbs-password' } },
          limits,
        },
        jsa: { provider: 'jsa', credentials: { token: { secret: 'jsa-token' } }, limits },
        veeam: {
          provider: 'veeam',
          credentials: { username: { env: 'RC_TEST_USER' }, password: { secret: 'veeam-password' } },
          limits,
        },
      },
      { config: { secretsFile: secretsPath } },
    );
    stack.sim.ctx.huaweiUsers = { [USER]: OLD.vbs };
    (stack.sim.provider('jsa') as JsaSim).expectedToken = OLD.jsa;
    (stack.sim.provider('veeam') as VeeamSim).users = { [USER]: OLD.veeam };
  });
  after(async () => {
    logs.stop();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const vm = (id: string) => ({
    id,
    restorePoints: [{ id: `${id}-rp`, pointInTime: '2025-01-01T00:00:00Z' }],
  });
  const jsaBackup = (id: number) => ({
    id,
    status: 'SUCCESS',
    type: 'CONFIG',
    time_initiated: Date.UTC(2026, 0, 1),
  });

  test('a first run logs in with the old secrets; mid-way through a second run they rotate (with a broken version in between) and its deletions go on', async () => {
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    /** One item per provider account. */
    const oneEach = (vbsId: string, jsaId: string, vmId: string) => [
      { account: stack.account('vbs'), id: vbsId },
      { account: stack.account('jsa'), id: jsaId },
      { account: stack.account('veeam'), id: vmId },
    ];
    const [vbsEarly, vbsLate] = vbsBackups(2, 'rot');
    stack.sim.seed('vbs', stack.scope('vbs'), [vbsEarly, vbsLate]);
    stack.sim.seed('jsa', stack.scope('jsa'), [jsaBackup(7001), jsaBackup(7002)]);
    stack.sim.seed('veeam', stack.scope('veeam'), [vm('vm-rot-early'), vm('vm-rot-late')]);
    const stdio = captureStdio();
    let secondRun: string;
    let reportText = '';
    try {
      // 1. The worker logs in (and caches tokens and the secrets file) with the old secrets.
      const first = await rc.start({
        items: oneEach(vbsEarly!.id, '7001', 'vm-rot-early'),
        dryRun: false,
        label: 'before rotation',
      });
      assert.deepEqual((await rc.result(first)).counts, {
        deleted: 3,
        absent: 0,
        blocked: 0,
        failed: 0,
        skipped: 0,
      });
      reportText += JSON.stringify(await reportOf(rc, first));

      // 2. A second run whose deletions the providers hold (503 before any credential is checked).
      const hold = [
        { provider: 'vbs', path: `/backups/${vbsLate!.id}`, fault: { kind: 'status' as const, status: 503 } },
        { provider: 'jsa', path: '/backups/7002', fault: { kind: 'status' as const, status: 503 } },
        {
          provider: 'veeam',
          path: '/virtualMachines/vm-rot-late/',
          fault: { kind: 'status' as const, status: 503 },
        },
      ];
      stack.sim.setFaults(hold);
      secondRun = await rc.start({
        items: oneEach(vbsLate!.id, '7002', 'vm-rot-late'),
        dryRun: false,
        label: 'across the rotation',
      });
      await waitFor('every held deletion tried at least once', () =>
        (stack.sim.faults.list() as { hits?: number }[]).every((r) => (r.hits ?? 0) >= 1),
      );

      // 3. A broken version first: the worker keeps the old secrets and says so, without the content.
      writeFileSync(secretsPath, `vbs-password: ${BROKEN}: oops\n`);
      const warning = await waitFor('the warning about the broken version', () =>
        logs.lines.find((l) => /still using the version read at/.test(l.message)),
      );
      assert.equal(warning.level, 'WARN');
      assert.match(warning.message, /secrets file .*secrets\.yaml: not valid YAML at line 1, column \d+/);

      // 4. Rotation: the new secrets in the file, then at the providers; every old token revoked.
      writeFileSync(secretsPath, secretsYaml(NEW));
      stack.sim.ctx.huaweiUsers = { [USER]: NEW.vbs };
      (stack.sim.provider('jsa') as JsaSim).expectedToken = NEW.jsa;
      const veeam = stack.sim.provider('veeam') as VeeamSim;
      veeam.users = { [USER]: NEW.veeam };
      stack.sim.ctx.revokeHuaweiTokens();
      veeam.revokeAllTokens(stack.scope('veeam'));
      const loginsBefore = stack.sim.ctx.counters.snapshot().tokensIssued;
      stack.sim.setFaults([]);

      const summary = await rc.result(secondRun);
      const report = await reportOf(rc, secondRun);
      reportText += JSON.stringify(report);
      assert.deepEqual(
        summary.counts,
        { deleted: 3, absent: 0, blocked: 0, failed: 0, skipped: 0 },
        JSON.stringify(report),
      );
      // The Huawei and Veeam deletions needed a fresh login, which only the new password could get.
      const loginsAfter = stack.sim.ctx.counters.snapshot().tokensIssued;
      const more = (prefix: string) =>
        Object.entries(loginsAfter)
          .filter(([k]) => k.startsWith(prefix))
          .reduce((n, [k, v]) => n + v - (loginsBefore[k] ?? 0), 0);
      assert.ok(more('huawei:') >= 1, 'IAM issued a token after the rotation');
      assert.ok(
        more(`veeam:${stack.scope('veeam')}:Password`) >= 1,
        'Veeam password grant after the rotation',
      );
    } finally {
      stdio.stop();
      stack.sim.setFaults([]);
    }

    const historyText = await historiesText(stack.client, stack.taskQueue, secondRun, 3);
    const logText = logs.lines.map((l) => `${l.text}`).join('\n');
    assert.deepEqual(
      leaksIn(formsOf(BROKEN, ...Object.values(OLD), ...Object.values(NEW)), {
        histories: historyText,
        'worker logs': logText,
        'stdout/stderr': stdio.text(),
        reports: reportText,
      }),
      [],
      'a secret appeared in these places',
    );
  });
});

/**
 * Promise 5: credentials never enter workflow inputs, results, histories, logs or reports; endpoints
 * come only from the worker config. Distinctive secrets are seeded into the config (environment
 * variables, a secrets file, a credential file, the Temporal API key), real deletions run through the
 * workflows against the VBS simulator (with retries, a token revocation, a retry-budget failure and an
 * IAM 401), and everything observable is searched for them: every history of the run, its batches and
 * the lanes (payloads decoded as text), every worker log line at every level, the process's
 * stdout/stderr, the summary, the report and error messages. Also: requests cannot carry an endpoint,
 * and the Temporal connection takes an API key or mTLS from Temporal's environment variables.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { temporalSettings } from '../client/connection';
import { validateRequest } from '../client/request-validation';
import { errorMessage, RetentionClient } from '../client/retention-client';
import { ConfigError, parseWorkerConfig } from '../worker/config';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { reportOf, waitFor } from './helpers/runs';
import { captureStdio, historiesText, leakForms, leaksIn } from './helpers/secret-scan';
import { captureWorkerLogs, startStack, vbsBackups, type Stack } from './helpers/stack';

/** One random tag shared by every secret, used nowhere else: finding it anywhere is a leak. */
const TAG = randomBytes(8).toString('hex');
const SECRETS = {
  user: `rcsec-user-${TAG}`,
  fileUser: `rcsec-fileuser-${TAG}`,
  envPassword: `rcsec-envpw-${TAG}`,
  secretsFilePassword: `rcsec-secretsfilepw-${TAG}`,
  wrongPassword: `rcsec-wrongpw-${TAG}`,
  temporalApiKey: `rcsec-apikey-${TAG}`,
};
const ENV = {
  RC_SEC_USER: SECRETS.user,
  RC_SEC_PASSWORD: SECRETS.envPassword,
  RC_SEC_WRONG_PASSWORD: SECRETS.wrongPassword,
};

const FORMS = [TAG, ...Object.values(SECRETS).flatMap((s) => leakForms(s))];

/** Names where a secret was found (never the secret itself, so a failure message leaks nothing). */
function leaks(where: string, text: string): string[] {
  return leaksIn(FORMS, { [where]: text });
}

describe('promise 5: credentials stay out of histories, logs and reports', () => {
  let stack: Stack;
  let rc: RetentionClient;
  const logs = captureWorkerLogs();
  const issuedTokens: string[] = [];
  const savedEnv = { ...process.env };

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-sec-'));
    writeFileSync(join(dir, 'secrets.yaml'), `vbs-main-password: ${SECRETS.secretsFilePassword}\n`);
    writeFileSync(join(dir, 'user.txt'), `${SECRETS.fileUser}\n`);
    Object.assign(process.env, ENV);
    // The worker connects to Temporal with an API key too (plaintext to the dev server, which ignores it).
    process.env.TEMPORAL_API_KEY = SECRETS.temporalApiKey;
    process.env.TEMPORAL_TLS = 'false';
    stack = await startStack(
      {
        main: {
          provider: 'vbs',
          credentials: { username: { env: 'RC_SEC_USER' }, password: { secret: 'vbs-main-password' } },
          limits: { maxAttempts: 30 },
        },
        second: {
          provider: 'vbs',
          credentials: { username: { file: join(dir, 'user.txt') }, password: { env: 'RC_SEC_PASSWORD' } },
          limits: { maxAttempts: 3 },
        },
        wrong: {
          provider: 'vbs',
          credentials: { username: { env: 'RC_SEC_USER' }, password: { env: 'RC_SEC_WRONG_PASSWORD' } },
        },
      },
      { config: { secretsFile: join(dir, 'secrets.yaml') } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
    // IAM accepts only the right pairs, so the secrets really are used (and the wrong one is refused).
    stack.sim.ctx.huaweiUsers = {
      [SECRETS.user]: SECRETS.secretsFilePassword,
      [SECRETS.fileUser]: SECRETS.envPassword,
    };
    // Tokens are credentials too: remember every one the simulator hands out.
    const issue = stack.sim.ctx.issueHuaweiToken.bind(stack.sim.ctx);
    stack.sim.ctx.issueHuaweiToken = (req) => {
      const res = issue(req);
      const token = res.headers?.['X-Subject-Token'];
      if (token) issuedTokens.push(token);
      return res;
    };
  });
  after(async () => {
    logs.stop();
    await stack?.stop();
    for (const k of [...Object.keys(ENV), 'TEMPORAL_API_KEY', 'TEMPORAL_TLS']) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
  });

  test('a run with retries, a token revocation, a retry-budget failure and an IAM 401 leaks no secret anywhere', async () => {
    const stdio = captureStdio();
    let workflowId: string;
    let summaryText: string, reportText: string, statusText: string;
    let report: Awaited<ReturnType<typeof reportOf>> = [];
    try {
      const main = vbsBackups(12, 'sec-main');
      const second = vbsBackups(4, 'sec-second');
      const doomed = vbsBackups(1, 'sec-doomed');
      const wrong = vbsBackups(3, 'sec-wrong');
      stack.sim.seed('vbs', stack.scope('main'), main);
      stack.sim.seed('vbs', stack.scope('second'), [...second, ...doomed]);
      stack.sim.seed('vbs', stack.scope('wrong'), wrong);
      stack.sim.setFaults(
        [
          {
            provider: 'vbs',
            method: 'DELETE',
            path: '/backups/sec-main',
            rate: 0.3,
            fault: { kind: 'status', status: 503 },
          },
          {
            provider: 'vbs',
            method: 'DELETE',
            path: '/backups/sec-main',
            times: 2,
            fault: { kind: 'status', status: 429, retryAfter: '1' },
          },
          { provider: 'vbs', method: 'GET', path: '/backups/sec-main', rate: 0.15, fault: { kind: 'reset' } },
          {
            provider: 'vbs',
            method: 'DELETE',
            path: '/backups/sec-doomed',
            fault: { kind: 'status', status: 500 },
          },
        ],
        7,
      );
      const items = [
        ...main.map((b) => ({ account: stack.account('main'), id: b.id })),
        { account: stack.account('main'), id: 'sec-gone' },
        ...[...second, ...doomed].map((b) => ({ account: stack.account('second'), id: b.id })),
        ...wrong.map((b) => ({ account: stack.account('wrong'), id: b.id })),
      ];
      workflowId = await rc.start({ items, dryRun: false, label: 'security proof' });
      // Mid-run, every token is revoked: the adapters log in again with the password.
      await waitFor(
        'first deletions',
        () => Object.keys(stack.sim.ctx.counters.snapshot().acceptedDeletes).length >= 3,
      );
      stack.sim.ctx.revokeHuaweiTokens();

      const summary = await rc.result(workflowId);
      stack.sim.setFaults([]);
      assert.deepEqual(summary.counts, { deleted: 16, absent: 1, blocked: 0, failed: 4, skipped: 0 });
      report = await reportOf(rc, workflowId);
      const status = await rc.status(workflowId);
      summaryText = JSON.stringify(summary);
      reportText = JSON.stringify(report);
      statusText = JSON.stringify(status);
    } finally {
      stdio.stop();
    }

    // The run exercised what it should: both secret sources logged in, re-login after revocation, retries, 401.
    const counters = stack.sim.ctx.counters.snapshot();
    const logins = (user: string) =>
      Object.entries(counters.tokensIssued)
        .filter(([k]) => k.endsWith(`:${user}`))
        .reduce((n, [, v]) => n + v, 0);
    assert.ok(
      logins(SECRETS.user) >= 2,
      'the secrets-file password logged in, and again after the revocation',
    );
    assert.ok(logins(SECRETS.fileUser) >= 1, 'the env password (with the file username) logged in');
    assert.ok((counters.requests['vbs DELETE'] ?? 0) > 17, 'some deletes were retried');
    const byId = new Map(report.map((o) => [o.id, o]));
    const wrongOutcome = byId.get('sec-wrong-00000');
    assert.equal(wrongOutcome?.outcome, 'failed');
    assert.match(wrongOutcome!.reason, /IAM refused the credentials for domain "sim-domain" \(HTTP 401\)/);
    assert.match(
      byId.get('sec-doomed-00000')?.reason ?? '',
      /HTTP 500|ProviderTransient/,
      'failed after the retry budget',
    );
    assert.ok(issuedTokens.length >= 3, 'tokens were issued');

    // Every execution on the task queue: the run, its batch(es) and the three lanes.
    const historyText = await historiesText(stack.client, stack.taskQueue, workflowId!, 3);
    // The scan is not vacuous: decoded payloads and failure messages are in the text searched.
    assert.match(historyText, /"id":"sec-main-00000"/, 'payloads were decoded as JSON text');
    assert.match(historyText, /IAM refused the credentials/, 'failure messages are in the text');
    assert.match(historyText, /provider confirmed the deletion/, 'outcomes are in the text');

    const logText = logs.lines.map((l) => l.text).join('\n');
    assert.ok(logs.lines.length > 0, 'worker log lines were captured');
    assert.ok(
      logs.lines.some((l) => /ProviderTransient|503|Activity failed|failed/i.test(l.text)),
      'retries were logged',
    );

    const found = [
      ...leaks('workflow histories', historyText),
      ...leaks('worker logs', logText),
      ...leaks('stdout/stderr', stdio.text()),
      ...leaks('summary', summaryText!),
      ...leaks('report', reportText!),
      ...leaks('status', statusText!),
    ];
    assert.deepEqual(found, [], 'a secret appeared in these places');
    const tokenLeaks = issuedTokens.filter((t) =>
      [historyText, logText, stdio.text(), reportText!, summaryText!].some((s) => s.includes(t)),
    );
    assert.equal(tokenLeaks.length, 0, 'an IAM token appeared in a history, log or report');
  });

  test('a config cannot hold a secret inline, and the refusal does not echo it', () => {
    const account = (password: unknown) => ({
      accounts: {
        a: {
          provider: 'vbs',
          endpoint: 'https://vbs.example',
          iamEndpoint: 'https://iam.example',
          projectId: 'p',
          domain: 'd',
          credentials: { username: { env: 'U' }, password },
        },
      },
    });
    for (const password of [
      SECRETS.envPassword,
      { value: SECRETS.envPassword },
      { env: 'P', value: SECRETS.envPassword },
    ]) {
      assert.throws(
        () => parseWorkerConfig(account(password), 'cfg.yaml'),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.match(e.message, /accounts\.a\.credentials\.password/);
          if (typeof password === 'string') assert.match(e.message, /never the secret itself/);
          assert.deepEqual(leaks('config error', e.message), []);
          return true;
        },
      );
    }
  });

  test('a request cannot carry an endpoint or credentials: the client and the workflow refuse unknown fields, and nothing is called', async () => {
    let attackerHits = 0;
    const attacker = createServer((_req, res) => {
      attackerHits++;
      res.end('{}');
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
    const evil = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    const account = stack.account('main');
    try {
      const attempts: [Record<string, unknown>, RegExp][] = [
        [{ items: [{ account, id: 'x', endpoint: evil }] }, /items\[0\]: unknown field\(s\) "endpoint"/],
        [
          { items: [{ account, id: 'x', iamEndpoint: evil }] },
          /items\[0\]: unknown field\(s\) "iamEndpoint"/,
        ],
        [
          { items: [{ account, id: 'x', credentials: { password: 'p' } }] },
          /items\[0\]: unknown field\(s\) "credentials"/,
        ],
        [{ items: [{ account, id: 'x' }], endpoint: evil }, /unknown field\(s\) "endpoint"/],
        [
          { items: [{ account, id: 'x' }], accounts: { [account]: { endpoint: evil } } },
          /unknown field\(s\) "accounts"/,
        ],
      ];
      for (const [request, expected] of attempts) {
        const v = validateRequest(request);
        assert.ok(!v.ok, `client refuses ${JSON.stringify(request)}`);
        assert.match(v.problems.join('\n'), expected);
      }
      // Straight to Temporal (as the Web UI or another SDK could), bypassing the client's check.
      for (const [i, [request, expected]] of attempts.entries()) {
        const handle = await stack.client.workflow.start(retentionCleanup, {
          taskQueue: stack.taskQueue,
          workflowId: `sec-endpoint-${TAG}-${i}`,
          args: [{ ...request, dryRun: false } as never],
        });
        const err = await handle.result().then(
          () => assert.fail('the run should have failed'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof WorkflowFailedError);
        assert.match(errorMessage(err), /InvalidRequest|unknown field/);
        assert.match(errorMessage(err), expected);
      }
      assert.equal(attackerHits, 0, 'no request reached the endpoint a request named');
    } finally {
      attacker.closeAllConnections();
      await new Promise<void>((r) => attacker.close(() => r()));
    }
  });
});

describe('Temporal connection: API key and mTLS from Temporal environment variables (no connection made)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rc-temporal-tls-'));
  const pem = (name: string) => {
    const path = join(dir, name);
    writeFileSync(
      path,
      `-----BEGIN TEST ${name}-----\n${randomBytes(12).toString('base64')}\n-----END TEST ${name}-----\n`,
    );
    return path;
  };
  const noFile = { TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml') }; // never the developer's own profile file

  test('loadClientConnectConfig reads TEMPORAL_API_KEY into apiKey and turns TLS on', () => {
    const cfg = loadClientConnectConfig({
      overrideEnvVars: {
        ...noFile,
        TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
        TEMPORAL_NAMESPACE: 'ns.acct',
        TEMPORAL_API_KEY: 'api-key-1',
      },
    });
    assert.equal(cfg.connectionOptions.apiKey, 'api-key-1');
    assert.equal(cfg.connectionOptions.tls, true);
    assert.equal(cfg.connectionOptions.address, 'ns.acct.tmprl.cloud:7233');
    assert.equal(cfg.namespace, 'ns.acct');
  });

  test('temporalSettings (what the worker, RetentionClient.connect and the CLI use) carries API key and mTLS files into connectionOptions', () => {
    const files = { crt: pem('client.pem'), key: pem('client.key'), ca: pem('ca.pem') };
    const s = temporalSettings(
      {},
      {
        ...noFile,
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_NAMESPACE: 'retention',
        TEMPORAL_TLS_CLIENT_CERT_PATH: files.crt,
        TEMPORAL_TLS_CLIENT_KEY_PATH: files.key,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      },
    );
    assert.equal(s.address, 'temporal.internal:7233');
    assert.equal(s.namespace, 'retention');
    const tls = s.connectionOptions.tls;
    assert.ok(tls && typeof tls === 'object', 'an mTLS config');
    assert.deepEqual(Buffer.from(tls.clientCertPair!.crt), readFileSync(files.crt));
    assert.deepEqual(Buffer.from(tls.clientCertPair!.key), readFileSync(files.key));
    assert.deepEqual(Buffer.from(tls.serverRootCACertificate!), readFileSync(files.ca));
    assert.equal(tls.serverNameOverride, 'temporal.internal');

    // An explicit address (CLI --address, tests) keeps the API key and TLS from the environment.
    const k = temporalSettings({ address: 'other:7233' }, { ...noFile, TEMPORAL_API_KEY: 'api-key-2' });
    assert.equal(k.address, 'other:7233');
    assert.equal(k.connectionOptions.address, 'other:7233');
    assert.equal(k.connectionOptions.apiKey, 'api-key-2');
    assert.equal(k.connectionOptions.tls, true);
  });

  test('a profile from the config file (TEMPORAL_PROFILE), with the environment overriding it', () => {
    const file = join(dir, 'temporal.toml');
    writeFileSync(
      file,
      '[profile.cloud]\naddress = "acct.tmprl.cloud:7233"\nnamespace = "acct"\napi_key = "from-file"\n',
    );
    const s = temporalSettings({}, { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
    assert.equal(s.address, 'acct.tmprl.cloud:7233');
    assert.equal(s.namespace, 'acct');
    assert.equal(s.connectionOptions.apiKey, 'from-file');
    const o = temporalSettings(
      {},
      { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud', TEMPORAL_API_KEY: 'from-env' },
    );
    assert.equal(o.connectionOptions.apiKey, 'from-env');
  });
});

describe('promise 5: Veeam bearer/refresh tokens and the JSA SEC token stay out of histories, logs and reports', () => {
  const TOKEN_TAG = randomBytes(8).toString('hex');
  const JSA_SEC = `rcsec-jsa-sec-${TOKEN_TAG}`;
  const VEEAM_PASSWORD = `rcsec-veeam-pw-${TOKEN_TAG}`;
  const saved = { ...process.env };
  const logs = captureWorkerLogs();
  let stack: Stack;
  let rc: RetentionClient;
  /** Every Veeam access and refresh token the simulator handed out. */
  const veeamTokens: string[] = [];

  before(async () => {
    process.env.RC_SEC_JSA_TOKEN = JSA_SEC;
    process.env.RC_SEC_VEEAM_PASSWORD = VEEAM_PASSWORD;
    stack = await startStack(
      {
        vbr: {
          provider: 'veeam',
          credentials: { username: { env: 'RC_TEST_USER' }, password: { env: 'RC_SEC_VEEAM_PASSWORD' } },
        },
        qr: { provider: 'jsa', credentials: { token: { env: 'RC_SEC_JSA_TOKEN' } } },
      },
      // Short Veeam access tokens, so the refresh grant is used during the run too.
      { sim: { timings: { veeamTokenTtlMs: 1_500, deleteMs: { veeam: 400, jsa: 400 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
    const jsa = stack.sim.provider('jsa') as unknown as { expectedToken?: string };
    jsa.expectedToken = JSA_SEC; // the SEC token really is what authenticates
    const veeam = stack.sim.provider('veeam') as unknown as {
      token: (...args: unknown[]) => { body?: { access_token?: string; refresh_token?: string } };
    };
    const token = veeam.token.bind(veeam);
    veeam.token = (...args) => {
      const res = token(...args);
      if (res.body?.access_token) veeamTokens.push(res.body.access_token);
      if (res.body?.refresh_token) veeamTokens.push(res.body.refresh_token);
      return res;
    };
  });
  after(async () => {
    logs.stop();
    await stack?.stop();
    for (const k of ['RC_SEC_JSA_TOKEN', 'RC_SEC_VEEAM_PASSWORD']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  test('a run over Veeam and JSA leaks none of their tokens', async () => {
    const stdio = captureStdio();
    let texts: Record<string, string>;
    let workflowId: string;
    try {
      const vms = Array.from({ length: 6 }, (_, i) => ({
        id: `sec-vm-${i}`,
        restorePoints: [{ id: `sec-vm-${i}-rp`, pointInTime: '2025-01-01T00:00:00Z' }],
      }));
      stack.sim.seed('veeam', stack.scope('vbr'), vms);
      const jsaBackups = Array.from({ length: 6 }, (_, i) => ({
        id: 900 + i,
        status: 'SUCCESS',
        type: 'CONFIG',
        host_id: 53,
        time_initiated: Date.UTC(2026, 0, 1) + i * 60_000,
      }));
      stack.sim.seed('jsa', stack.scope('qr'), jsaBackups);
      // One 401 mid-run: the Veeam adapter renews its token and repeats the call.
      stack.sim.setFaults([
        {
          provider: 'veeam',
          method: 'GET',
          path: 'jobSessions',
          times: 1,
          fault: { kind: 'status', status: 401 },
        },
      ]);
      const items = [
        ...vms.map((v) => ({ account: stack.account('vbr'), id: v.id })),
        ...jsaBackups.map((b) => ({ account: stack.account('qr'), id: String(b.id) })),
      ];
      workflowId = await rc.start({ items, dryRun: false, label: 'token scan' });
      const summary = await rc.result(workflowId);
      stack.sim.setFaults([]);
      assert.equal(summary.counts.deleted, 12, JSON.stringify(summary.counts));
      texts = {
        summary: JSON.stringify(summary),
        report: JSON.stringify(await reportOf(rc, workflowId)),
        status: JSON.stringify(await rc.status(workflowId)),
      };
    } finally {
      stdio.stop();
    }
    assert.ok(veeamTokens.length >= 4, `Veeam tokens were issued and renewed (${veeamTokens.length})`);
    const historyText = await historiesText(stack.client, stack.taskQueue, workflowId, 2);
    assert.match(historyText, /sec-vm-0/, 'payloads were decoded as JSON text');
    const places: Record<string, string> = {
      ...texts,
      'workflow histories': historyText,
      'worker logs': logs.lines.map((l) => l.text).join('\n'),
      'stdout/stderr': stdio.text(),
    };
    const forms = [TOKEN_TAG, ...leakForms(JSA_SEC), ...leakForms(VEEAM_PASSWORD)];
    assert.deepEqual(leaksIn(forms, places), [], 'the JSA SEC token or the Veeam password appeared here');
    const tokenLeaks = Object.entries(places)
      .filter(([, text]) => veeamTokens.some((t) => text.includes(t)))
      .map(([where]) => where);
    assert.deepEqual(tokenLeaks, [], 'a Veeam bearer or refresh token appeared here');
  });
});

/**
 * The account probe (worker/probe.ts; `retention-cleanup validate --config FILE --probe` and the
 * worker's start-up check) against the simulator over real HTTP: one good account and one per
 * problem an operator meets, each named with the config field that fixes it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Simulator } from '../simulator/server';
import { parseWorkerConfig } from '../worker/config';
import { probeAccounts, type ProbeResult } from '../worker/probe';
import { runCli, show } from './helpers/run-cli';
import { waitFor } from './helpers/runs';
import {
  configFor,
  spawnWorkerProcess,
  startStack,
  TEST_CREDENTIAL_ENV,
  vbsBackups,
  type Stack,
} from './helpers/stack';
import { hasOpenssl, makeTestCerts } from './helpers/tls';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('probeAccounts', () => {
  const sim = new Simulator();
  const certs = hasOpenssl() ? makeTestCerts() : undefined;
  const tlsSim = certs ? new Simulator({ tls: { key: certs.key, cert: certs.cert } }) : undefined;
  let results: Map<string, ProbeResult>;

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV, { RC_PROBE_WRONG_PASSWORD: 'not-the-password' });
    await sim.start();
    await tlsSim?.start();
    sim.ctx.huaweiUsers = { [TEST_CREDENTIAL_ENV.RC_TEST_USER]: TEST_CREDENTIAL_ENV.RC_TEST_PASSWORD };
    sim.seed('vbs', 'proj-good', vbsBackups(2, 'probe'));
    sim.provider('veeam').seed('appliance', [{ id: 'vm-1', restorePoints: [] }]);
    const raw = configFor(
      sim.url,
      {
        good: { provider: 'vbs', scope: 'proj-good' },
        goodveeam: { provider: 'veeam', scope: 'appliance' },
        badpassword: {
          provider: 'vbs',
          scope: 'proj-good',
          credentials: { username: { env: 'RC_TEST_USER' }, password: { env: 'RC_PROBE_WRONG_PASSWORD' } },
        },
        typo: { provider: 'taurusdb', scope: 'proj-good' },
        closed: { provider: 'jsa', scope: 'console' },
        nodns: { provider: 'veeam', scope: 'appliance' },
        unset: {
          provider: 'vbs',
          scope: 'proj-good',
          credentials: { username: { env: 'RC_TEST_USER' }, password: { env: 'RC_PROBE_UNSET_VARIABLE' } },
        },
        ...(tlsSim ? { selfsigned: { provider: 'veeam' as const, scope: 'appliance' } } : {}),
      },
      (n) => n,
    );
    const set = (n: string, field: string, v: string) =>
      ((raw.accounts[n] as Record<string, string>)[field] = v);
    set('typo', 'endpoint', `${sim.url}/taurusdb-typo`);
    set('closed', 'endpoint', `http://127.0.0.1:${await closedPort()}/jsa/console`);
    set('nodns', 'endpoint', 'http://veeam.nothing-here.invalid/appliance');
    if (tlsSim) set('selfsigned', 'endpoint', `${tlsSim.url}/veeam/appliance`);
    delete process.env.RC_PROBE_UNSET_VARIABLE;
    const loaded = parseWorkerConfig(raw, 'probe config');
    results = new Map((await probeAccounts(loaded, { timeoutMs: 10_000 })).map((r) => [r.account, r]));
  });
  after(async () => {
    await sim.stop();
    await tlsSim?.stop();
  });

  const failed = (name: string) => {
    const r = results.get(name)!;
    assert.equal(r.ok, false, `${name}: ${JSON.stringify(r)}`);
    return r;
  };

  test('good accounts are OK, with the time taken', () => {
    for (const name of ['good', 'goodveeam']) {
      const r = results.get(name)!;
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(typeof r.ms, 'number');
      assert.equal(r.problem, undefined);
    }
    assert.equal(results.get('good')!.endpoint, `${sim.url}/vbs`);
  });

  test('a wrong password: credentials refused, fix accounts.<name>.credentials (the secret never shown)', () => {
    const r = failed('badpassword');
    assert.equal(r.problem, 'credentials refused');
    assert.equal(r.field, 'accounts.badpassword.credentials');
    assert.match(
      r.message!,
      /^credentials refused: IAM refused the credentials .*HTTP 401.*; check accounts\.badpassword\.credentials$/,
    );
    assert.doesNotMatch(JSON.stringify(r), /not-the-password/);
  });

  test("a typo'd endpoint path: wrong path (404 without the provider's marker), fix accounts.<name>.endpoint", () => {
    const r = failed('typo');
    assert.equal(r.problem, 'wrong path');
    assert.equal(r.field, 'accounts.typo.endpoint');
    assert.match(
      r.message!,
      /HTTP 404 without DBS\.201203 or DBS\.201010 \(empty body\): check accounts\.typo\.endpoint \(http:\/\/127\.0\.0\.1:\d+\/taurusdb-typo\)/,
    );
  });

  test('a closed port: connection refused, fix accounts.<name>.endpoint', () => {
    const r = failed('closed');
    assert.equal(r.problem, 'connection refused');
    assert.equal(r.field, 'accounts.closed.endpoint');
    assert.match(r.message!, /nothing accepts connections at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  test('a host that does not resolve: DNS, fix accounts.<name>.endpoint', () => {
    const r = failed('nodns');
    assert.equal(r.problem, 'DNS');
    assert.equal(r.field, 'accounts.nodns.endpoint');
    assert.match(
      r.message!,
      /cannot resolve the host of http:\/\/veeam\.nothing-here\.invalid \((ENOTFOUND|EAI_AGAIN)\)/,
    );
  });

  test('a credential reference that does not resolve: named, never a value', () => {
    const r = failed('unset');
    assert.equal(r.problem, 'credentials unavailable');
    assert.equal(r.field, 'accounts.unset.credentials');
    assert.match(r.message!, /environment variable RC_PROBE_UNSET_VARIABLE is not set/);
  });

  test('an endpoint that does not answer in time: timeout, fix accounts.<name>.endpoint', async () => {
    const raw = configFor(sim.url, { slow: { provider: 'jsa', scope: 'slow-console' } }, (n) => n);
    sim.setFaults([{ provider: 'jsa', path: '^/slow-console/', fault: { kind: 'latency', ms: 3_000 } }]);
    try {
      const [r] = await probeAccounts(parseWorkerConfig(raw, 'probe config'), { timeoutMs: 300 });
      assert.equal(r!.ok, false);
      assert.equal(r!.problem, 'timeout');
      assert.equal(r!.field, 'accounts.slow.endpoint');
      assert.match(r!.message!, /no answer within 0\.3 s from http:\/\/127\.0\.0\.1:\d+\/jsa\/slow-console/);
    } finally {
      sim.setFaults([]);
    }
  });

  test(
    'a certificate from a private CA: TLS, fix accounts.<name>.tls.caFile',
    { skip: !tlsSim && 'no openssl' },
    () => {
      const r = failed('selfsigned');
      assert.equal(r.problem, 'TLS');
      assert.equal(r.field, 'accounts.selfsigned.tls.caFile');
    },
  );
});

describe('the worker probes its accounts at start and logs each, starting anyway', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ fine: { provider: 'vbs' }, typo: { provider: 'vbs' } }, { worker: false });
    const accounts = stack.configObject.accounts as Record<string, { endpoint: string }>;
    accounts[stack.account('typo')]!.endpoint = `${stack.sim.url}/vbs-typo`;
  });
  after(async () => stack.stop());

  test('INFO for an account that answers, WARN naming the field for one that does not', async () => {
    const worker = await spawnWorkerProcess(stack, { env: { RETENTION_LOG_FORMAT: 'json' } });
    try {
      const lines = () =>
        worker
          .stderrTail()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { level: string; msg: string; account?: string; field?: string });
      const probed = (name: string) =>
        lines().find((l) => l.account === stack.account(name) && /^account /.test(l.msg));
      const fine = await waitFor('the probe line of the good account', () => probed('fine'), 30_000);
      const typo = await waitFor("the probe line of the typo'd account", () => probed('typo'), 30_000);
      assert.equal(fine.level, 'info');
      assert.match(fine.msg, /: OK in \d+ ms$/);
      assert.equal(typo.level, 'warn');
      assert.equal(typo.field, `accounts.${stack.account('typo')}.endpoint`);
      assert.match(typo.msg, /wrong path: .*HTTP 404 without itemNotFound \(empty body\)/);
      assert.equal(worker.child.exitCode, null, 'the worker keeps running');
    } finally {
      await worker.stop();
    }
  });
});

describe('retention-cleanup validate --config FILE --probe', () => {
  const sim = new Simulator();
  let configFile: string;
  before(async () => {
    await sim.start();
    const raw = configFor(
      sim.url,
      { good: { provider: 'vbs', scope: 'p' }, typo: { provider: 'vbs', scope: 'p' } },
      (n) => n,
    );
    (raw.accounts.typo as { endpoint: string }).endpoint = `${sim.url}/vbs-html`;
    configFile = join(mkdtempSync(join(tmpdir(), 'rc-probe-')), 'config.json');
    writeFileSync(configFile, JSON.stringify(raw));
  });
  after(async () => sim.stop());

  test('prints a table and each problem naming the field; exit 1 when an account failed', async () => {
    const r = await runCli(['validate', '--config', configFile, '--probe'], { env: TEST_CREDENTIAL_ENV });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /ACCOUNT\s+PROVIDER\s+RESULT\s+TIME/);
    assert.match(r.stdout, /\ngood\s+vbs\s+OK\s+\d+ ms/);
    assert.match(r.stdout, /\ntypo\s+vbs\s+FAILED \(wrong path\)\s+\d+ ms/);
    assert.match(
      r.stdout,
      /typo: wrong path: .*HTTP 404 without itemNotFound \(HTML body\): check accounts\.typo\.endpoint \(http:\/\/127\.0\.0\.1:\d+\/vbs-html\)/,
    );
  });

  test('--json for scripts: every account with ok, ms, problem and field', async () => {
    const r = await runCli(['validate', '--config', configFile, '--probe', '--json'], {
      env: TEST_CREDENTIAL_ENV,
    });
    assert.equal(r.code, 1, show(r));
    const out = JSON.parse(r.stdout) as { valid: boolean; probe: ProbeResult[] };
    assert.equal(out.valid, true);
    const byName = new Map(out.probe.map((p) => [p.account, p]));
    assert.equal(byName.get('good')?.ok, true);
    assert.equal(byName.get('typo')?.ok, false);
    assert.equal(byName.get('typo')?.problem, 'wrong path');
    assert.equal(byName.get('typo')?.field, 'accounts.typo.endpoint');
  });

  test('--probe without --config is a usage error', async () => {
    const r = await runCli(['validate', configFile, '--probe']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--probe checks the accounts of a worker config: add --config/);
  });
});

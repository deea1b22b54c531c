/**
 * TLS to provider endpoints: verification is on by default (and NODE_TLS_REJECT_UNAUTHORIZED=0 cannot
 * turn it off), `tls.caFile` adds a private CA, `tls.insecureSkipVerify: true` is the only way to turn
 * verification off, and a certificate problem fails the item at once (non-retryable) with a message
 * naming the fix. A Huawei account's IAM endpoint stays verified when `tls.insecureSkipVerify` is set
 * (only `iamTls.insecureSkipVerify: true` turns that off; `tls.caFile` applies to it). Certificates are
 * made at test time with the `openssl` CLI; the simulator serves HTTPS.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { HttpClient } from '../activities/http';
import { isProviderError } from '../activities/provider-error';
import { ConfigError, parseWorkerConfig } from '../worker/config';
import { laneWorkflowId } from '../contract/ids';
import { reportOf } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';
import { hasOpenssl, makeTestCerts, type TestCerts } from './helpers/tls';
import { rejection } from './helpers/adapters';

const skip = hasOpenssl() ? false : 'the openssl CLI is not installed (apt-get install openssl)';

describe('TLS to provider endpoints', { skip }, () => {
  let certs: TestCerts;
  let stack: Stack;
  let rc: RetentionClient;

  before(async () => {
    certs = makeTestCerts();
    stack = await startStack(
      {
        noCa: { provider: 'vbs' },
        privateCa: { provider: 'vbs', tls: { caFile: certs.caFile } },
        otherCa: { provider: 'vbs', tls: { caFile: certs.otherCaFile } },
        // Verification off by name for the service endpoint and for IAM.
        insecure: {
          provider: 'vbs',
          tls: { insecureSkipVerify: true },
          iamTls: { insecureSkipVerify: true },
        },
        // The service endpoint's setting alone leaves the IAM password exchange verified.
        insecureServiceOnly: { provider: 'vbs', tls: { insecureSkipVerify: true } },
        insecureServiceWithCa: { provider: 'vbs', tls: { insecureSkipVerify: true, caFile: certs.caFile } },
      },
      { sim: { tls: { key: certs.key, cert: certs.cert } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test('the simulator serves HTTPS', () => {
    assert.match(stack.sim.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  test('HttpClient: an untrusted certificate is a non-retryable rejection naming tls.caFile', async () => {
    const url = `${stack.sim.url}/_admin/counters`;
    const plain = new HttpClient({ timeoutMs: 5000 });
    const withCa = new HttpClient({ timeoutMs: 5000, tls: { caFile: certs.caFile } });
    const insecure = new HttpClient({ timeoutMs: 5000, tls: { insecureSkipVerify: true } });
    try {
      const err = await rejection(plain.send({ method: 'GET', url }));
      assert.ok(isProviderError(err), `a ProviderError, got ${String(err)}`);
      assert.equal(err.kind, 'rejected', 'certificate errors are not transient');
      assert.match(err.message, /TLS certificate not trusted/);
      assert.match(err.message, /tls\.caFile/);
      assert.equal(err.info.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      assert.equal(
        (await withCa.send({ method: 'GET', url })).status,
        200,
        'the private CA is trusted with tls.caFile',
      );
      assert.equal(
        (await insecure.send({ method: 'GET', url })).status,
        200,
        'insecureSkipVerify turns verification off',
      );
    } finally {
      await Promise.all([plain.close(), withCa.close(), insecure.close()]);
    }
  });

  test('HttpClient: NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment does not disable verification', async () => {
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const plain = new HttpClient({ timeoutMs: 5000 });
    try {
      const err = await rejection(plain.send({ method: 'GET', url: `${stack.sim.url}/_admin/counters` }));
      assert.ok(
        isProviderError(err) && err.kind === 'rejected',
        `still refused with the variable set, got ${String(err)}`,
      );
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
      await plain.close();
    }
  });

  test('HttpClient: a certificate for another host is refused even with the right CA, and the message says caFile does not fix it', async () => {
    const server = createServer({ key: certs.wrongHostKey, cert: certs.wrongHostCert }, (_req, res) =>
      res.end('{}'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const http = new HttpClient({ timeoutMs: 5000, tls: { caFile: certs.caFile } });
    try {
      const err = await rejection(
        http.send({ method: 'GET', url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/` }),
      );
      assert.ok(isProviderError(err) && err.kind === 'rejected', String(err));
      assert.equal(err.info.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      assert.match(err.message, /name the endpoint's host/);
    } finally {
      await http.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('end to end: without caFile the item fails at once (one attempt, non-retryable); with caFile or insecureSkipVerify it is deleted', async () => {
    const items = [];
    for (const name of ['noCa', 'privateCa', 'otherCa', 'insecure']) {
      const [b] = vbsBackups(1, `tls-${name}`);
      stack.sim.seed('vbs', stack.scope(name), [b]);
      items.push({ account: stack.account(name), id: b!.id });
    }
    const id = await rc.start({ items, dryRun: false, label: 'tls' });
    const summary = await rc.result(id);
    assert.deepEqual(summary.counts, { deleted: 2, absent: 0, blocked: 0, failed: 2, skipped: 0 });
    const outcomes = new Map((await reportOf(rc, id)).map((o) => [o.account, o]));
    for (const name of ['privateCa', 'insecure'])
      assert.equal(outcomes.get(stack.account(name))?.outcome, 'deleted', name);
    for (const name of ['noCa', 'otherCa']) {
      const o = outcomes.get(stack.account(name));
      assert.equal(o?.outcome, 'failed', name);
      assert.match(o!.reason, /^ProviderRejected: .*TLS certificate not trusted/, `${name}: ${o?.reason}`);
      assert.match(o!.reason, /tls\.caFile/);
      assert.equal(o!.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    }
    // The lane's history shows the deletion activity failed on its first attempt, marked non-retryable.
    const history = await stack.client.workflow
      .getHandle(laneWorkflowId(stack.account('noCa')))
      .fetchHistory();
    const events = history.events ?? [];
    const failed = events.filter((e) =>
      e.activityTaskFailedEventAttributes?.failure?.message?.includes('tls.caFile'),
    );
    assert.equal(failed.length, 1, 'one failed deletion activity');
    const attrs = failed[0]!.activityTaskFailedEventAttributes!;
    assert.equal(attrs.failure?.applicationFailureInfo?.nonRetryable, true);
    const started = events.find((e) => Number(e.eventId) === Number(attrs.startedEventId));
    assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 1, 'no retry of a certificate error');
  });

  test('Huawei IAM: tls.insecureSkipVerify does not turn off verification of the password exchange; tls.caFile applies to IAM', async () => {
    const items = [];
    for (const name of ['insecureServiceOnly', 'insecureServiceWithCa']) {
      const [b] = vbsBackups(1, `tls-iam-${name}`);
      stack.sim.seed('vbs', stack.scope(name), [b]);
      items.push({ account: stack.account(name), id: b!.id });
    }
    const id = await rc.start({ items, dryRun: false, label: 'tls iam' });
    const summary = await rc.result(id);
    const outcomes = new Map((await reportOf(rc, id)).map((o) => [o.account, o]));
    assert.deepEqual(summary.counts, { deleted: 1, absent: 0, blocked: 0, failed: 1, skipped: 0 });
    assert.equal(
      outcomes.get(stack.account('insecureServiceWithCa'))?.outcome,
      'deleted',
      'an IAM certificate trusted through tls.caFile: the token request works',
    );
    const refused = outcomes.get(stack.account('insecureServiceOnly'));
    assert.equal(refused?.outcome, 'failed');
    assert.match(
      refused!.reason,
      /^ProviderRejected: IAM token request to https:\/\/127\.0\.0\.1:\d+\/iam\/v3\/auth\/tokens: TLS certificate not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); IAM is verified even when tls\.insecureSkipVerify is set: give its CA in tls\.caFile \(lab only: iamTls\.insecureSkipVerify: true\)$/,
    );
    assert.equal(refused!.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // Refused on the first attempt: a certificate problem is not retried.
    const events =
      (
        await stack.client.workflow
          .getHandle(laneWorkflowId(stack.account('insecureServiceOnly')))
          .fetchHistory()
      ).events ?? [];
    const failed = events.filter((e) =>
      e.activityTaskFailedEventAttributes?.failure?.message?.includes('IAM token request'),
    );
    assert.equal(failed.length, 1, 'one failed deletion activity');
    assert.equal(
      failed[0]!.activityTaskFailedEventAttributes!.failure?.applicationFailureInfo?.nonRetryable,
      true,
    );
  });

  test('config: caFile must be readable at load (named in the error); verification can only be turned off by name', () => {
    const account = (tls: unknown) => ({
      accounts: {
        a: {
          provider: 'vbs',
          endpoint: 'https://vbs.example',
          iamEndpoint: 'https://iam.example',
          projectId: 'p',
          domain: 'd',
          credentials: { username: { env: 'U' }, password: { env: 'P' } },
          tls,
        },
      },
    });
    assert.throws(
      () => parseWorkerConfig(account({ caFile: 'no-such-ca.pem' }), 'cfg.yaml', certs.dir),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /accounts\.a\.tls\.caFile: cannot read .*no-such-ca\.pem \(ENOENT\)/);
        return true;
      },
    );
    const loaded = parseWorkerConfig(account({ caFile: 'ca.pem' }), 'cfg.yaml', certs.dir);
    assert.equal(
      loaded.config.accounts.a!.tls?.caFile,
      certs.caFile,
      'a relative caFile is resolved against the config file',
    );
    for (const tls of [
      { verify: false },
      { rejectUnauthorized: false },
      { insecureSkipVerify: 'true' },
      { insecureSkipVerify: 1 },
    ]) {
      assert.throws(
        () => parseWorkerConfig(account(tls), 'cfg.yaml'),
        ConfigError,
        `refused: ${JSON.stringify(tls)}`,
      );
    }
    assert.throws(
      () =>
        parseWorkerConfig(
          { ...account(undefined), accounts: { a: { ...account(undefined).accounts.a, tls: false } } },
          'cfg.yaml',
        ),
      ConfigError,
    );
    // Verification of a Huawei IAM endpoint is turned off only by iamTls.insecureSkipVerify: true.
    const withFields = (fields: Record<string, unknown>) => ({
      accounts: { a: { ...account(undefined).accounts.a, ...fields } },
    });
    assert.equal(
      parseWorkerConfig(withFields({ iamTls: { insecureSkipVerify: true } }), 'cfg.yaml').config.accounts.a!
        .provider,
      'vbs',
    );
    for (const fields of [
      { iamTls: { insecureSkipVerify: 'true' } },
      { iamTls: { verify: false } },
      { iamTls: { rejectUnauthorized: false } },
      { iamTls: false },
      { iamInsecureSkipVerify: true },
      { tls: { iamInsecureSkipVerify: true } },
    ]) {
      assert.throws(
        () => parseWorkerConfig(withFields(fields), 'cfg.yaml'),
        ConfigError,
        `refused: ${JSON.stringify(fields)}`,
      );
    }
    const veeam = {
      accounts: {
        v: {
          provider: 'veeam',
          endpoint: 'https://veeam.example',
          credentials: { username: { env: 'U' }, password: { env: 'P' } },
          iamTls: { insecureSkipVerify: true },
        },
      },
    };
    assert.throws(
      () => parseWorkerConfig(veeam, 'cfg.yaml'),
      /iamTls/,
      'iamTls exists only on Huawei accounts',
    );
  });
});

/**
 * The optional AES-256-GCM payload codec: unit behaviour (round trip, key rotation, wrong key id,
 * tampering), the codec server (Temporal's remote codec protocol as the Web UI speaks it, CORS, bearer
 * token), and a real run with RETENTION_CODEC_KEYS set: the history holds only ciphertext, while the
 * client with the keys reads the summary and the report.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import {
  AesGcmCodec,
  CodecError,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA_KEY,
  parseCodecKeys,
} from '../codec/aes-gcm-codec';
import { startCodecServer, type CodecServer, type JsonPayload } from '../codec/codec-server';
import { dataConverterFromEnv, requireEncryptionFromEnv } from '../codec/data-converter';
import { RetentionClient } from '../client/retention-client';
import { codecServerOptions } from '../scripts/codec-server';
import { reportOf, waitFor } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';
import { rejection } from './helpers/adapters';

const b64key = () => randomBytes(32).toString('base64');
const K1 = b64key();
const K2 = b64key();
const text = (b?: Uint8Array | null) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const encodingOf = (p: Payload) => text(p.metadata?.encoding);

const sample = { items: [{ account: 'vbs-prod', id: 'backup-0001' }], dryRun: false, label: 'codec sample' };

describe('AES-256-GCM codec', () => {
  test('round trip: encrypted with the first key, key id in metadata, fresh IV each time, decoded back exactly', async () => {
    const codec = new AesGcmCodec(parseCodecKeys(`k1:${K1},k2:${K2}`));
    const original = defaultPayloadConverter.toPayload(sample);
    const [enc] = await codec.encode([original]);
    assert.equal(encodingOf(enc!), ENCRYPTED_ENCODING);
    assert.equal(text(enc!.metadata?.[KEY_ID_METADATA_KEY]), 'k1');
    assert.ok(!text(enc!.data).includes('backup-0001'), 'no plaintext in the encrypted data');
    assert.ok(!text(enc!.data).includes('json/plain'), 'the inner metadata is encrypted too');
    const [again] = await codec.encode([original]);
    assert.notDeepEqual(Buffer.from(again!.data!), Buffer.from(enc!.data!), 'a random IV per payload');
    const [dec] = await codec.decode([enc!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(dec!), sample);
    assert.equal(encodingOf(dec!), 'json/plain');
    // An empty list, and payloads that were never encrypted, pass through.
    assert.deepEqual(await codec.decode([]), []);
    const [plain] = await codec.decode([original]);
    assert.equal(plain, original);
  });

  test('rotation: a new active key encrypts, the old key still decrypts what it wrote', async () => {
    const before = new AesGcmCodec(parseCodecKeys(`k1:${K1}`));
    const rotated = new AesGcmCodec(parseCodecKeys(`k2:${K2}, k1:${K1}`));
    assert.equal(rotated.activeKeyId, 'k2');
    const [old] = await before.encode([defaultPayloadConverter.toPayload('old')]);
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload('new')]);
    assert.equal(text(fresh!.metadata?.[KEY_ID_METADATA_KEY]), 'k2');
    const decoded = await rotated.decode([old!, fresh!]);
    assert.deepEqual(
      decoded.map((p) => defaultPayloadConverter.fromPayload(p)),
      ['old', 'new'],
    );
  });

  test('a payload whose key id is not configured fails with a clear error naming the id', async () => {
    const [enc] = await new AesGcmCodec(parseCodecKeys(`k1:${K1}`)).encode([
      defaultPayloadConverter.toPayload(sample),
    ]);
    const err = await rejection(new AesGcmCodec(parseCodecKeys(`k2:${K2}`)).decode([enc!]));
    assert.ok(err instanceof CodecError);
    assert.match(err.message, /encrypted with key "k1", which is not among the configured keys \(k2\)/);
    assert.match(err.message, /RETENTION_CODEC_KEYS/);
  });

  test('tampering is detected: altered data, a swapped key id, a different key under the same id, truncation', async () => {
    const codec = new AesGcmCodec(parseCodecKeys(`k1:${K1},k2:${K2}`));
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(sample)]);
    const flipped = Buffer.from(enc!.data!);
    flipped[20]! ^= 1;
    const variants: [string, Payload, AesGcmCodec][] = [
      ['flipped bit', { ...enc!, data: new Uint8Array(flipped) }, codec],
      [
        'key id swapped',
        { ...enc!, metadata: { ...enc!.metadata, [KEY_ID_METADATA_KEY]: Buffer.from('k2') } },
        codec,
      ],
      ['other key, same id', enc!, new AesGcmCodec(parseCodecKeys(`k1:${K2}`))],
    ];
    for (const [what, payload, c] of variants) {
      const err = await rejection(c.decode([payload]));
      assert.ok(err instanceof CodecError, what);
      assert.match(err.message, /failed authentication/, what);
    }
    const err = await rejection(codec.decode([{ ...enc!, data: enc!.data!.subarray(0, 10) }]));
    assert.match(err.message, /truncated/);
  });

  test('key list errors name the key id and the problem, never the key material', () => {
    const short = randomBytes(16).toString('base64');
    const cases: [string, RegExp][] = [
      [`k1:${short}`, /key "k1" is 16 bytes after base64 decoding; AES-256-GCM needs 32/],
      [`k1:${K1},k1:${K2}`, /key id "k1" appears twice/],
      [K1, /entry 1 is not "id:base64key"/],
      [`bad id:${K1}`, /key id must be/],
      [`k1:not*base64`, /key "k1" is not base64/],
      [' , ', /no keys/],
    ];
    for (const [spec, expected] of cases) {
      assert.throws(
        () => parseCodecKeys(spec),
        (e: unknown) => {
          assert.ok(e instanceof CodecError);
          assert.match(e.message, expected);
          for (const secret of [K1, K2, short])
            assert.ok(!e.message.includes(secret), 'no key material in the message');
          return true;
        },
      );
    }
  });

  test('dataConverterFromEnv: undefined without keys, the codec with them, an error for a bad list', () => {
    assert.equal(dataConverterFromEnv({}), undefined);
    assert.equal(dataConverterFromEnv({ RETENTION_CODEC_KEYS: '  ' }), undefined);
    const dc = dataConverterFromEnv({ RETENTION_CODEC_KEYS: `k1:${K1}` });
    assert.ok(dc?.payloadCodecs?.[0] instanceof AesGcmCodec);
    assert.throws(() => dataConverterFromEnv({ RETENTION_CODEC_KEYS: 'k1:abc' }), CodecError);
  });

  test('requireEncryption: an unencrypted payload is refused with a clear error instead of passing through', async () => {
    const strict = new AesGcmCodec(parseCodecKeys(`k1:${K1}`), { requireEncryption: true });
    const plain = defaultPayloadConverter.toPayload(sample);
    const err = await rejection(strict.decode([plain]));
    assert.ok(err instanceof CodecError);
    assert.match(
      err.message,
      /^payload is not encrypted \(encoding "json\/plain"\) and RETENTION_CODEC_REQUIRE_ENCRYPTION=true refuses it: start runs and send signals and updates through a client with the RETENTION_CODEC_KEYS keys/,
    );
    assert.ok(!err.message.includes('backup-0001'), 'the payload is not quoted');
    const noMetadata = await rejection(strict.decode([{ data: plain.data }]));
    assert.match(noMetadata.message, /encoding "none"/);
    // What it wrote itself still decodes.
    const [enc] = await strict.encode([plain]);
    assert.deepEqual(defaultPayloadConverter.fromPayload((await strict.decode([enc!]))[0]!), sample);
  });

  test('RETENTION_CODEC_REQUIRE_ENCRYPTION: "true" turns it on, "false" or unset off; other values, or "true" without keys, are errors', () => {
    const keys = { RETENTION_CODEC_KEYS: `k1:${K1}` };
    assert.equal(requireEncryptionFromEnv({}), false);
    assert.equal(requireEncryptionFromEnv({ ...keys, RETENTION_CODEC_REQUIRE_ENCRYPTION: 'false' }), false);
    assert.equal(requireEncryptionFromEnv({ ...keys, RETENTION_CODEC_REQUIRE_ENCRYPTION: 'TRUE' }), true);
    const codec = dataConverterFromEnv({ ...keys, RETENTION_CODEC_REQUIRE_ENCRYPTION: 'true' })
      ?.payloadCodecs?.[0] as AesGcmCodec;
    assert.equal(codec.requireEncryption, true);
    assert.equal((dataConverterFromEnv(keys)?.payloadCodecs?.[0] as AesGcmCodec).requireEncryption, false);
    assert.throws(
      () => dataConverterFromEnv({ ...keys, RETENTION_CODEC_REQUIRE_ENCRYPTION: 'yes' }),
      /RETENTION_CODEC_REQUIRE_ENCRYPTION: expected "true" or "false", got "yes"/,
    );
    assert.throws(
      () => dataConverterFromEnv({ RETENTION_CODEC_REQUIRE_ENCRYPTION: 'true' }),
      /RETENTION_CODEC_REQUIRE_ENCRYPTION=true needs RETENTION_CODEC_KEYS/,
    );
  });
});

describe('codec server', () => {
  const UI = 'http://localhost:8233';
  const TOKEN = `token-${randomBytes(8).toString('hex')}`;
  let server: CodecServer;
  const codec = new AesGcmCodec(parseCodecKeys(`k1:${K1}`));
  const toJson = (p: Payload): JsonPayload => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  });
  // What the Web UI sends: JSON, X-Namespace, the UI's origin, and (when configured) a bearer token.
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Namespace': 'default',
        Origin: UI,
        Authorization: `Bearer ${TOKEN}`,
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  before(async () => {
    server = await startCodecServer({ port: 0, keys: `k1:${K1}`, corsOrigin: UI, authToken: TOKEN });
  });
  after(async () => server?.close());

  test("/decode answers the Web UI's JSON shape: {payloads: [{metadata: {k: base64}, data: base64}]}", async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(sample)]);
    const res = await post('/decode', { payloads: [toJson(enc!)] });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(res.headers.get('access-control-allow-origin'), UI);
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    const body = (await res.json()) as { payloads: JsonPayload[] };
    assert.equal(body.payloads.length, 1);
    const [p] = body.payloads;
    assert.equal(Buffer.from(p!.metadata!.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(p!.data!, 'base64').toString()), sample);
  });

  test('/encode then /decode round trip; only the last path segment counts (mountable under a prefix)', async () => {
    const plain = toJson(defaultPayloadConverter.toPayload({ hello: 'codec' }));
    const encRes = await post('/codecs/default/encode', { payloads: [plain] });
    assert.equal(encRes.status, 200);
    const encoded = ((await encRes.json()) as { payloads: JsonPayload[] }).payloads;
    assert.equal(Buffer.from(encoded[0]!.metadata!.encoding!, 'base64').toString(), ENCRYPTED_ENCODING);
    const decRes = await post('/codecs/default/decode/', { payloads: encoded });
    const decoded = ((await decRes.json()) as { payloads: JsonPayload[] }).payloads;
    assert.deepEqual(decoded, [plain]);
  });

  test('CORS preflight allows the Web UI origin and its headers; other origins get no CORS grant', async () => {
    const pre = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: UI,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace,authorization',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), UI);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    for (const h of ['Content-Type', 'X-Namespace', 'Authorization'])
      assert.match(pre.headers.get('access-control-allow-headers') ?? '', new RegExp(h));
  });

  test('a browser page of another origin is refused with 403 before anything is decoded; requests without Origin (CLI) are served', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(sample)]);
    for (const origin of ['https://evil.example', 'null', 'http://localhost:8234', `${UI}.evil.example`]) {
      const res = await post('/decode', { payloads: [toJson(enc!)] }, { Origin: origin });
      assert.equal(res.status, 403, origin);
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
      const body = await res.text();
      assert.ok(!body.includes(Buffer.from(JSON.stringify(sample)).toString('base64')), 'nothing decoded');
      assert.match(body, /Origin is not allowed; add the Web UI's origin with --cors-origin/);
      const pre = await fetch(`${server.url}/decode`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' },
      });
      assert.equal(pre.status, 403, `preflight from ${origin}`);
    }
    // The temporal CLI and curl send no Origin: the token alone decides.
    const cli = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ payloads: [toJson(enc!)] }),
    });
    assert.equal(cli.status, 200);
  });

  test('a token is required unless --no-auth (noAuth: true) says otherwise; a short token is refused', async () => {
    await assert.rejects(
      startCodecServer({ port: 0, keys: `k1:${K1}`, corsOrigin: UI }),
      /needs a bearer token \(RETENTION_CODEC_AUTH_TOKEN.*say so with --no-auth/,
    );
    await assert.rejects(
      startCodecServer({ port: 0, keys: `k1:${K1}`, authToken: 'short-token' }),
      /the bearer token has 11 characters; use at least 16/,
    );
    await assert.rejects(
      startCodecServer({ port: 0, keys: `k1:${K1}`, authToken: TOKEN, noAuth: true }),
      /either authToken or noAuth, not both/,
    );
    const open = await startCodecServer({ port: 0, keys: `k1:${K1}`, corsOrigin: UI, noAuth: true });
    try {
      const [enc] = await codec.encode([defaultPayloadConverter.toPayload(sample)]);
      const req = (origin?: string) =>
        fetch(`${open.url}/decode`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...(origin ? { Origin: origin } : {}) },
          body: JSON.stringify({ payloads: [toJson(enc!)] }),
        });
      assert.equal((await req(UI)).status, 200, 'no token needed with noAuth');
      assert.equal((await req()).status, 200);
      assert.equal((await req('https://evil.example')).status, 403, 'the Origin check holds without auth');
    } finally {
      await open.close();
    }
  });

  test('scripts/codec-server.ts: refuses to start without RETENTION_CODEC_AUTH_TOKEN unless --no-auth; --require-encryption', () => {
    const env = { RETENTION_CODEC_KEYS: `k1:${K1}` };
    assert.throws(
      () => codecServerOptions([], env),
      /RETENTION_CODEC_AUTH_TOKEN is not set: whoever reaches the codec server can decrypt.*pass --no-auth/,
    );
    const withToken = codecServerOptions(['--port', '0'], { ...env, RETENTION_CODEC_AUTH_TOKEN: TOKEN });
    assert.equal(withToken?.authToken, TOKEN);
    assert.equal(withToken?.noAuth, undefined);
    assert.equal(withToken?.requireEncryption, false);
    assert.deepEqual(withToken?.corsOrigin, ['http://localhost:8233']);
    const open = codecServerOptions(['--no-auth', '--cors-origin', 'https://ui.example'], env);
    assert.equal(open?.noAuth, true);
    assert.equal(open?.authToken, undefined);
    assert.deepEqual(open?.corsOrigin, ['https://ui.example']);
    assert.throws(
      () => codecServerOptions(['--no-auth'], { ...env, RETENTION_CODEC_AUTH_TOKEN: TOKEN }),
      /--no-auth and RETENTION_CODEC_AUTH_TOKEN contradict each other/,
    );
    assert.equal(codecServerOptions(['--no-auth', '--require-encryption'], env)?.requireEncryption, true);
    assert.equal(
      codecServerOptions(['--no-auth'], { ...env, RETENTION_CODEC_REQUIRE_ENCRYPTION: 'true' })
        ?.requireEncryption,
      true,
    );
    assert.throws(() => codecServerOptions(['--no-auth'], {}), /RETENTION_CODEC_KEYS is not set/);
    assert.equal(codecServerOptions(['--help'], {}), undefined);
  });

  test('with requireEncryption, /decode of an unencrypted payload is 400 with the reason', async () => {
    const strict = await startCodecServer({ keys: `k1:${K1}`, noAuth: true, requireEncryption: true });
    try {
      const res = await fetch(`${strict.url}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ payloads: [toJson(defaultPayloadConverter.toPayload(sample))] }),
      });
      assert.equal(res.status, 400);
      assert.match(
        ((await res.json()) as { message: string }).message,
        /decode failed: payload is not encrypted/,
      );
    } finally {
      await strict.close();
    }
  });

  test('a missing or wrong bearer token is 401; bad bodies and undecodable payloads are 400 with a reason', async () => {
    assert.equal((await post('/decode', { payloads: [] }, { Authorization: '' })).status, 401);
    assert.equal((await post('/decode', { payloads: [] }, { Authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await post('/decode', 'not json')).status, 400);
    assert.equal((await post('/decode', { payloads: [{ data: 42 }] })).status, 400);
    const [foreign] = await new AesGcmCodec(parseCodecKeys(`k9:${K2}`)).encode([
      defaultPayloadConverter.toPayload(1),
    ]);
    const res = await post('/decode', { payloads: [toJson(foreign!)] });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /key "k9"/);
    assert.equal((await post('/other', {})).status, 404);
  });
});

/** Every payload in a history, with the path it was found at. */
function payloadsIn(node: unknown, path: string[] = [], out: { path: string; payload: Payload }[] = []) {
  if (!node || typeof node !== 'object' || node instanceof Uint8Array) return out;
  const o = node as Record<string, unknown>;
  if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object') {
    out.push({ path: path.join('.'), payload: o as Payload });
    return out;
  }
  for (const [k, v] of Object.entries(o)) {
    if (Array.isArray(v)) v.forEach((x, i) => payloadsIn(x, [...path, `${k}[${i}]`], out));
    else payloadsIn(v, [...path, k], out);
  }
  return out;
}

describe('a run with the codec on (RETENTION_CODEC_KEYS set)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  let raw: Client;
  const savedKeys = process.env.RETENTION_CODEC_KEYS;

  before(async () => {
    // The stack's client and its in-process worker both read the keys from the environment.
    process.env.RETENTION_CODEC_KEYS = `k2:${K2},k1:${K1}`;
    stack = await startStack({ vbs: { provider: 'vbs' } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
    raw = new Client({ connection: stack.client.connection }); // no codec: what the server stores
  });
  after(async () => {
    if (savedKeys === undefined) delete process.env.RETENTION_CODEC_KEYS;
    else process.env.RETENTION_CODEC_KEYS = savedKeys;
    await stack?.stop();
  });

  test('histories hold only ciphertext; the client with the keys reads summary and report; the codec server decodes a stored payload', async () => {
    const backups = vbsBackups(5, 'enc');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    stack.sim.setFaults([
      { provider: 'vbs', method: 'DELETE', times: 2, fault: { kind: 'status', status: 503 } },
    ]);
    const account = stack.account('vbs');
    const items = [...backups.map((b) => ({ account, id: b.id })), { account, id: 'enc-never-existed' }];
    const id = await rc.start({ items, dryRun: false, label: 'codec end to end' });

    const summary = await rc.result(id);
    stack.sim.setFaults([]);
    assert.deepEqual(summary.counts, { deleted: 5, absent: 1, blocked: 0, failed: 0, skipped: 0 });
    const report = await reportOf(rc, id);
    assert.equal(report.length, 6);
    assert.equal(report.find((o) => o.id === 'enc-never-existed')?.outcome, 'absent');

    // Every execution of the run: the run, its batches and the account's lane.
    const executions = await waitFor('the run, its batch and the lane in visibility', async () => {
      const found: { workflowId: string; runId: string; type: string }[] = [];
      // Listing decodes memos, so it takes the client with the keys; fetchHistory below returns raw events.
      for await (const e of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}"` }))
        found.push(e);
      const types = new Set(found.map((e) => e.type));
      return ['retentionCleanup', 'cleanupBatch', 'accountLane'].every((t) => types.has(t))
        ? found
        : undefined;
    });
    let checked = 0;
    for (const e of executions) {
      const history = await raw.workflow.getHandle(e.workflowId, e.runId).fetchHistory();
      for (const { path, payload } of payloadsIn(history.events)) {
        if (/searchAttributes/.test(path)) continue; // indexed by the server: never encrypted, never secret
        if (/markerRecordedEventAttributes\.details\.patch-data/.test(path)) {
          // The SDK writes a patched() marker's data itself, without the codec: only our patch id (a
          // constant in workflows/, never user data). Checked so that nothing else hides there.
          assert.match(
            text(payload.data),
            /^\{"id":"[a-z-]+","deprecated":false\}$/,
            `patch marker at ${path}`,
          );
          continue;
        }
        checked++;
        const where = `${e.type} ${e.workflowId} ${path}`;
        assert.equal(encodingOf(payload), ENCRYPTED_ENCODING, `encrypted: ${where}`);
        assert.equal(text(payload.metadata?.[KEY_ID_METADATA_KEY]), 'k2', `active key: ${where}`);
        const body = text(payload.data);
        assert.throws(() => JSON.parse(body) as unknown, SyntaxError, `not readable JSON: ${where}`);
        for (const needle of ['enc-0000', account, 'json/plain', 'provider confirmed'])
          assert.ok(!body.includes(needle), `${needle} in clear at ${where}`);
      }
    }
    assert.ok(checked >= 20, `payloads checked: ${checked}`);

    // Without the keys, the result cannot be read.
    await assert.rejects(raw.workflow.getHandle(id).result(), /binary\/encrypted|encoding/i);

    // The codec server (same keys) turns the stored start input back into the request.
    const started = (await raw.workflow.getHandle(id).fetchHistory()).events?.[0]
      ?.workflowExecutionStartedEventAttributes;
    const input = started?.input?.payloads?.[0] as temporal.api.common.v1.IPayload;
    const server = await startCodecServer({ keys: process.env.RETENTION_CODEC_KEYS!, noAuth: true });
    try {
      const res = await fetch(`${server.url}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default' },
        body: JSON.stringify({
          payloads: [
            {
              metadata: Object.fromEntries(
                Object.entries(input.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
              ),
              data: Buffer.from(input.data!).toString('base64'),
            },
          ],
        }),
      });
      assert.equal(res.status, 200);
      const [p] = ((await res.json()) as { payloads: JsonPayload[] }).payloads;
      const request = JSON.parse(Buffer.from(p!.data!, 'base64').toString()) as {
        items: { id: string }[];
        label: string;
      };
      assert.equal(request.label, 'codec end to end');
      assert.equal(request.items.length, 6);
    } finally {
      await server.close();
    }
  });
});

describe('a worker that requires encryption (RETENTION_CODEC_REQUIRE_ENCRYPTION=true)', () => {
  let stack: Stack;
  const saved = {
    keys: process.env.RETENTION_CODEC_KEYS,
    require: process.env.RETENTION_CODEC_REQUIRE_ENCRYPTION,
  };

  before(async () => {
    process.env.RETENTION_CODEC_KEYS = `k1:${K1}`;
    process.env.RETENTION_CODEC_REQUIRE_ENCRYPTION = 'true';
    stack = await startStack({ vbs: { provider: 'vbs' } });
  });
  after(async () => {
    for (const [k, v] of [
      ['RETENTION_CODEC_KEYS', saved.keys],
      ['RETENTION_CODEC_REQUIRE_ENCRYPTION', saved.require],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await stack?.stop();
  });

  test('runs from a client with the keys delete as usual; a run written without them is refused by the worker and deletes nothing', async () => {
    const account = stack.account('vbs');
    const [kept, deleted] = vbsBackups(2, 'strict');
    stack.sim.seed('vbs', stack.scope('vbs'), [kept, deleted]);

    // Through the client with the keys (and the lanes it starts): everything decodes.
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const ok = await rc.start({ items: [{ account, id: deleted!.id }], dryRun: false, label: 'strict ok' });
    assert.deepEqual((await rc.result(ok)).counts, {
      deleted: 1,
      absent: 0,
      blocked: 0,
      failed: 0,
      skipped: 0,
    });

    // Written straight into Temporal without the keys (another SDK, the CLI, anyone with access).
    const raw = new Client({ connection: stack.client.connection });
    const forged = await raw.workflow.start('retentionCleanup', {
      taskQueue: stack.taskQueue,
      workflowId: `strict-forged-${randomBytes(4).toString('hex')}`,
      args: [{ items: [{ account, id: kept!.id }], dryRun: false, label: 'forged' }],
    });
    try {
      const failedTask = await waitFor("the worker to fail the forged run's workflow task", async () => {
        const events = (await forged.fetchHistory()).events ?? [];
        return events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
      });
      assert.match(
        failedTask.failure?.message ?? '',
        /payload is not encrypted \(encoding "json\/plain"\) and RETENTION_CODEC_REQUIRE_ENCRYPTION=true refuses it/,
      );
      const events = (await forged.fetchHistory()).events ?? [];
      assert.ok(
        !events.some(
          (e) =>
            e.activityTaskScheduledEventAttributes || e.startChildWorkflowExecutionInitiatedEventAttributes,
        ),
        'the run did nothing',
      );
    } finally {
      await forged.terminate('test cleanup');
    }
    const calls = stack.sim.ctx.counters.snapshot().acceptedDeletes;
    assert.equal(calls[`vbs:${stack.scope('vbs')}:${kept!.id}`], undefined, 'the forged run deleted nothing');
    assert.equal(calls[`vbs:${stack.scope('vbs')}:${deleted!.id}`], 1);
  });
});

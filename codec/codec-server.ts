/**
 * A codec server (Temporal's remote codec protocol) so people can read encrypted payloads in the
 * Temporal Web UI or with `temporal workflow show --codec-endpoint`: POST .../encode and .../decode
 * take and answer `{"payloads": [Payload as proto3 JSON]}` (bytes as base64). Only the last path
 * segment picks the operation, so it can be mounted under any prefix.
 *
 * Whoever reaches it can decrypt, so: every request must carry `Authorization: Bearer <authToken>`
 * unless it is started with an explicit `noAuth: true` (`--no-auth`); a request from a browser page
 * whose `Origin` is not one of `corsOrigin` is refused with 403 (not only left without CORS headers:
 * a "simple" cross-site POST would still be processed); requests without `Origin` (CLI, curl) are not
 * browsers and rely on the token. It never logs payloads. Bind it to loopback or put it behind your
 * SSO proxy.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import { AesGcmCodec, CodecError, parseCodecKeys, type CodecKey } from './aes-gcm-codec';

export interface CodecServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The RETENTION_CODEC_KEYS string or parsed keys; the first encrypts. */
  keys: string | CodecKey[];
  /** Browser origin(s) allowed to call it, e.g. the Web UI's "http://localhost:8233"; others get 403. */
  corsOrigin?: string | string[];
  /** Every POST must carry `Authorization: Bearer <authToken>`. Required unless `noAuth: true`. */
  authToken?: string;
  /** Serve without a token; must be said explicitly (`--no-auth`). */
  noAuth?: boolean;
  /** Refuse to decode payloads that are not encrypted (see AesGcmCodecOptions). */
  requireEncryption?: boolean;
  /** Largest request body accepted (default 16 MiB). */
  maxBodyBytes?: number;
}

export interface CodecServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A Payload in proto3 JSON: metadata values and data base64. */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

export function payloadFromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
    ),
    data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
  };
}

export function payloadToJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The smallest bearer token accepted: a guessable token is no protection. */
export const MIN_AUTH_TOKEN_LENGTH = 16;

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  if (opts.authToken !== undefined && opts.noAuth)
    throw new CodecError('codec server: give either authToken or noAuth, not both');
  if (opts.authToken === undefined && opts.noAuth !== true)
    throw new CodecError(
      'codec server: whoever reaches it can decrypt, so it needs a bearer token (RETENTION_CODEC_AUTH_TOKEN; e.g. openssl rand -hex 32); ' +
        'to serve without one (loopback, or behind a proxy that authenticates), say so with --no-auth (noAuth: true)',
    );
  if (opts.authToken !== undefined && opts.authToken.length < MIN_AUTH_TOKEN_LENGTH)
    throw new CodecError(
      `codec server: the bearer token has ${opts.authToken.length} characters; use at least ${MIN_AUTH_TOKEN_LENGTH} (openssl rand -hex 32)`,
    );
  const codec = new AesGcmCodec(typeof opts.keys === 'string' ? parseCodecKeys(opts.keys) : opts.keys, {
    requireEncryption: opts.requireEncryption ?? false,
  });
  const origins = new Set([opts.corsOrigin ?? []].flat().map((o) => o.replace(/\/$/, '')));
  const maxBody = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const expectedAuth = opts.authToken ? Buffer.from(`Bearer ${opts.authToken}`) : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // A browser always names the page's origin on a cross-site request (and on any POST). Refuse the
    // ones not allowed outright: CORS alone would only hide the answer from the page, after decoding.
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin))
        throw new HttpError(403, "this Origin is not allowed; add the Web UI's origin with --cors-origin");
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      // Preflight: browsers send no Authorization here.
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    const op = new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '').split('/').pop();
    if (op !== 'encode' && op !== 'decode') throw new HttpError(404, 'POST to .../encode or .../decode');
    if (req.method !== 'POST') throw new HttpError(405, `${op} takes POST`);
    if (expectedAuth) {
      const got = Buffer.from(req.headers.authorization ?? '');
      if (got.length !== expectedAuth.length || !timingSafeEqual(got, expectedAuth)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpError(401, 'missing or wrong bearer token');
      }
    }
    const payloads = parseBody(await readBody(req, maxBody));
    let out: Payload[];
    try {
      out = op === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
    } catch (err) {
      throw new HttpError(400, `${op} failed: ${(err as Error).message}`);
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ payloads: out.map(payloadToJson) }));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : 'codec server error';
      if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new HttpError(413, `request body over ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string): Payload[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not JSON: expected {"payloads": [...]}');
  }
  const list = (body as { payloads?: unknown })?.payloads;
  if (list === undefined) return []; // proto3 JSON omits an empty repeated field
  if (!Array.isArray(list)) throw new HttpError(400, 'expected {"payloads": [...]}');
  return list.map((p, i) => {
    const { metadata, data } = (p ?? {}) as JsonPayload;
    const okMetadata =
      metadata == null ||
      (typeof metadata === 'object' && Object.values(metadata).every((v) => typeof v === 'string'));
    if (!okMetadata || (data != null && typeof data !== 'string')) {
      throw new HttpError(400, `payloads[${i}]: expected {"metadata": {"key": "base64"}, "data": "base64"}`);
    }
    return payloadFromJson({ metadata, data });
  });
}

/**
 * The one HTTP layer every adapter uses: undici pools with keep-alive and timeouts, TLS verification
 * on unless an account turns it off by name, cancellation through an AbortSignal, and classification
 * of transport failures and generic status codes. Provider-specific codes are classified by each
 * adapter on top of this.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { ProviderError } from './provider-error';

export interface TlsOptions {
  /** PEM file with extra CA certificates (on-premises appliances such as JSA or Veeam). */
  caFile?: string;
  /** Turns certificate verification off. Named loudly on purpose; never the default. */
  insecureSkipVerify?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, the raw text otherwise, undefined when empty. */
  body: unknown;
  text: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

const TRANSIENT_STATUS = new Set([500, 502, 503, 504, 550]);

export class HttpClient {
  private readonly agent: Agent;
  private readonly siblings: HttpClient[] = [];

  constructor(private readonly opts: { timeoutMs: number; tls?: TlsOptions; connections?: number }) {
    // Verification is explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn it off:
    // only an account's `tls.insecureSkipVerify: true` does.
    const connect: Record<string, unknown> = { rejectUnauthorized: opts.tls?.insecureSkipVerify !== true };
    // caFile adds to Node's public roots (Node's `ca` would replace them, breaking public IAM endpoints).
    if (opts.tls?.caFile) connect.ca = [...rootCertificates, readCaFile(opts.tls.caFile)];
    this.agent = new Agent({
      connections: opts.connections ?? 16,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connectTimeout: Math.min(opts.timeoutMs, 10_000),
      connect,
    });
  }

  /** Sends a request; transport failures become `transient` ProviderErrors. Never throws on a status. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        signal: req.signal,
      });
    } catch (err) {
      if (req.signal?.aborted) throw err;
      // A certificate the worker does not trust will not become trusted on retry: fail fast, saying how to fix it.
      const tls = describeCertificateError(err);
      const url = redactUrl(req.url);
      if (tls)
        throw new ProviderError(
          'rejected',
          `${req.method} ${url}: ${tls.message}`,
          { code: tls.code },
          { url, transport: tls.code },
        );
      throw new ProviderError(
        'transient',
        `${req.method} ${url}: ${describeTransportError(err)}`,
        {},
        { url, transport: transportCode(err) },
      );
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw new ProviderError(
        'transient',
        `${req.method} ${redactUrl(req.url)}: body cut off (${describeTransportError(err)})`,
        {
          status: res.statusCode,
        },
      );
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) headers[k.toLowerCase()] = String(v);
    return { status: res.statusCode, headers, body: parseBody(text, headers['content-type']), text };
  }

  /**
   * A client with this one's timeouts and pool size but other TLS settings (a Huawei account's IAM
   * endpoint), closed together with this one.
   */
  withTls(tls: TlsOptions): HttpClient {
    const sibling = new HttpClient({ ...this.opts, tls });
    this.siblings.push(sibling);
    return sibling;
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), ...this.siblings.map((s) => s.close())]);
  }
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (!text) return undefined;
  if (contentType && !/json/i.test(contentType)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text; // adapters decide whether a non-JSON body is malformed for that call
  }
}

/** The first error code in the chain (undici wraps socket and DNS errors in `cause`). */
function transportCode(err: unknown): string | undefined {
  for (let e = err as { code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && e.code) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

function describeTransportError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ? `${e.code} ${e.message ?? ''}`.trim() : String(e?.message ?? err);
}

function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProviderError(
      'rejected',
      `tls.caFile ${path}: cannot read it (${(err as { code?: string }).code ?? String(err)})`,
      { code: 'CA_FILE_UNREADABLE' },
    );
  }
}

/** OpenSSL verification codes meaning "the chain does not lead to a CA we trust". */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
]);
const INVALID_CERT_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True for a certificate whose chain leads to no CA the client trusts (tls.caFile can fix it). */
export function isUntrustedCertificateCode(code: string | undefined): boolean {
  return code !== undefined && UNTRUSTED_CERT_CODES.has(code);
}

/**
 * Which certificate failure a transport error code is: `untrusted` (a private CA: tls.caFile fixes
 * it), `invalid` (expired, or not for this host name: the server or the endpoint's host must change),
 * or undefined when it is none.
 */
export function certificateProblem(code: string | undefined): 'untrusted' | 'invalid' | undefined {
  if (code && UNTRUSTED_CERT_CODES.has(code)) return 'untrusted';
  if (code && INVALID_CERT_CODES.has(code)) return 'invalid';
  return undefined;
}

/**
 * A readable, non-retryable explanation of a certificate verification failure, or undefined when the
 * error is not one (resets and timeouts stay transient). undici may wrap the socket error in `cause`.
 */
export function describeCertificateError(err: unknown): { code: string; message: string } | undefined {
  for (
    let e = err as { code?: string; message?: string; cause?: unknown } | undefined, depth = 0;
    e && depth < 4;
    depth++
  ) {
    const code = e.code ?? '';
    if (UNTRUSTED_CERT_CODES.has(code)) {
      const message = `TLS certificate not trusted (${code}: ${e.message ?? ''}); if the endpoint uses a private or self-signed CA, set the account's tls.caFile to that CA's PEM file`;
      return { code, message };
    }
    if (INVALID_CERT_CODES.has(code)) {
      const message = `TLS certificate rejected (${code}: ${e.message ?? ''}); the server's certificate must be valid now and name the endpoint's host (tls.caFile does not change that)`;
      return { code, message };
    }
    e = e.cause as typeof e;
  }
  return undefined;
}

/** Query strings can carry ids but never secrets here; still, keep logs to origin + path. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<bad url>';
  }
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Record<string, string>, now = Date.now()): number | undefined {
  const v = headers['retry-after'];
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The classification shared by all providers for statuses their own codes do not explain:
 * 429 and 5xx are transient (with Retry-After), 401/403 auth, other 4xx rejected. A 404 reaching
 * this point lacks the provider's not-found marker (each dialect reads its marker first), so it is
 * `misconfigured`, never not-found; the dialects name the account's field (misconfiguredEndpoint).
 */
export function classifyStatus(
  res: HttpResponse,
  what: string,
  code?: string,
  message?: string,
): ProviderError {
  const detail =
    [code, message].filter(Boolean).join(': ') || truncate(res.text, 200) || `HTTP ${res.status}`;
  const info = { status: res.status, code, retryAfterMs: retryAfterMs(res.headers) };
  if (res.status === 429 || TRANSIENT_STATUS.has(res.status))
    return new ProviderError('transient', `${what}: ${detail}`, info);
  if (res.status === 404)
    return new ProviderError(
      'misconfigured',
      `${what}: HTTP 404 without the provider's not-found marker (${detail}): check the account's endpoint`,
      info,
    );
  if (res.status === 401 || res.status === 403) return new ProviderError('auth', `${what}: ${detail}`, info);
  return new ProviderError('rejected', `${what}: HTTP ${res.status} ${detail}`, info);
}

export function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

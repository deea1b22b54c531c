/**
 * What CSBS, VBS and TaurusDB share: the IAM token (POST /v3/auth/tokens, token in X-Subject-Token,
 * valid 24 h, cached per account and renewed once on 401), Huawei error bodies and their one
 * classification (classifyHuawei: each service's code tables, the API gateway's throttling answer
 * 429 APIG.0308 / APIGW.0308 with no documented Retry-After, and "a 404 without the service's
 * not-found marker is a wrong endpoint"), and reading Huawei timestamps.
 */
import { z } from 'zod';
import type { HuaweiAccountConfig, LoadedConfig } from '../../worker/config';
import {
  classifyStatus,
  isUntrustedCertificateCode,
  redactUrl,
  type HttpClient,
  type HttpResponse,
  type TlsOptions,
} from '../http';
import { isProviderError, ProviderError } from '../provider-error';
import { misconfiguredEndpoint, type AccountRef, type CallContext } from './adapter';

const TOKEN_EARLY_RENEWAL_MS = 10 * 60_000;
const DEFAULT_TOKEN_LIFETIME_MS = 24 * 3_600_000;
/** Huawei documents no Retry-After for APIG throttling; "retry after a few seconds". */
export const APIG_THROTTLE_DELAY_MS = 3_000;

interface CachedToken {
  token: string;
  renewAt: number;
}

/**
 * The TLS settings of a Huawei account's IAM endpoint. The password crosses that connection, so the
 * service endpoint's `tls.insecureSkipVerify` does not apply to it: only `iamTls.insecureSkipVerify`
 * turns its verification off. The account's `tls.caFile` does apply (it only adds a trusted CA).
 */
export function iamTlsOptions(account: Pick<HuaweiAccountConfig, 'tls' | 'iamTls'>): TlsOptions {
  return {
    ...(account.tls?.caFile ? { caFile: account.tls.caFile } : {}),
    ...(account.iamTls?.insecureSkipVerify === true ? { insecureSkipVerify: true } : {}),
  };
}

/** One per account; shared by every activity in the worker process, so a token serves many deletions. */
export class HuaweiSession {
  private cached?: CachedToken;
  private inflight?: Promise<CachedToken>;
  /** The IAM endpoint's own client: its TLS settings are not the service endpoint's (iamTlsOptions). */
  private readonly iam: HttpClient;

  constructor(
    private readonly http: HttpClient,
    private readonly account: HuaweiAccountConfig,
    private readonly credentials: () => { username: string; password: string },
    private readonly now: () => number = Date.now,
    /** Named in configuration errors ("check accounts.<name>.iamEndpoint"). */
    private readonly accountName?: string,
  ) {
    this.iam = http.withTls(iamTlsOptions(account));
  }

  /** Sends an authenticated request; a 401 gets one fresh token and one more try. */
  async send(
    method: 'GET' | 'DELETE' | 'POST',
    path: string,
    ctx: CallContext,
    extraHeaders: Record<string, string> = {},
  ): Promise<HttpResponse> {
    const url = `${this.account.endpoint.replace(/\/$/, '')}${path}`;
    for (let attempt = 0; ; attempt++) {
      const { token } = await this.token(ctx, attempt > 0);
      const res = await this.http.send({
        method,
        url,
        headers: { 'X-Auth-Token': token, Accept: 'application/json', ...extraHeaders },
        signal: ctx.signal,
      });
      if (res.status !== 401 || attempt > 0) return res;
      this.cached = undefined; // revoked early: fetch a new one once
    }
  }

  private async token(ctx: CallContext, forceNew: boolean): Promise<CachedToken> {
    if (!forceNew && this.cached && this.cached.renewAt > this.now()) return this.cached;
    // One token request at a time per account, however many deletions need it.
    this.inflight ??= this.fetchToken(ctx).finally(() => (this.inflight = undefined));
    this.cached = await this.inflight;
    return this.cached;
  }

  private async fetchToken(ctx: CallContext): Promise<CachedToken> {
    const { username, password } = this.credentials();
    const body = {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: username, password, domain: { name: this.account.domain } } },
        },
        scope: { project: { id: this.account.projectId } },
      },
    };
    const url = `${this.account.iamEndpoint.replace(/\/$/, '')}/v3/auth/tokens`;
    const res = await this.iam
      .send({
        method: 'POST',
        url,
        headers: { 'Content-Type': 'application/json;charset=utf8', Accept: 'application/json' },
        body: JSON.stringify(body),
        signal: ctx.signal,
      })
      .catch((err: unknown) => {
        throw isProviderError(err) && isUntrustedCertificateCode(err.info.code)
          ? new ProviderError(
              'rejected',
              `IAM token request to ${redactUrl(url)}: TLS certificate not trusted (${err.info.code}); IAM is verified even when tls.insecureSkipVerify is set: give its CA in tls.caFile (lab only: iamTls.insecureSkipVerify: true)`,
              err.info,
            )
          : err;
      });
    if (res.status === 404) {
      // Every IAM answer to this path is a token or an error about the credentials: a 404 means the
      // address is not an IAM endpoint (it would otherwise read as "backup not found" below us).
      throw misconfiguredEndpoint(res, 'IAM token request', {
        lacking: 'a token (no IAM token API at this address)',
        account: this.accountName
          ? { name: this.accountName, endpoint: this.account.iamEndpoint }
          : undefined,
        field: 'iamEndpoint',
      });
    }
    if (res.status !== 201 && res.status !== 200) {
      const err = huaweiError(res, 'IAM token request');
      // Wrong credentials are not fixed by retrying; say so plainly.
      if (res.status === 401 || res.status === 403) {
        throw new ProviderError(
          'auth',
          `IAM refused the credentials for domain "${this.account.domain}" (HTTP ${res.status}); check the account's credentials`,
          { status: res.status, code: err.info.code },
        );
      }
      throw err;
    }
    const token = res.headers['x-subject-token'];
    if (!token)
      throw new ProviderError('malformed', 'IAM token response: header X-Subject-Token is missing', {
        status: res.status,
      });
    const expiresAt = Date.parse(tokenBodySchema.safeParse(res.body).data?.token.expires_at ?? '');
    const lifetime = Number.isNaN(expiresAt) ? DEFAULT_TOKEN_LIFETIME_MS : expiresAt - this.now();
    return { token, renewAt: this.now() + Math.max(lifetime - TOKEN_EARLY_RENEWAL_MS, 60_000) };
  }
}

const tokenBodySchema = z.object({ token: z.object({ expires_at: z.string() }) });

const huaweiErrorSchema = z.object({ error_code: z.string(), error_msg: z.string().optional() });
/** OpenStack style: {"itemNotFound": {"message": "...", "code": 404}}. */
const openstackErrorSchema = z.record(
  z.string(),
  z.object({ message: z.string(), code: z.number().optional() }),
);

/** Reads the code and message out of either Huawei error dialect. */
export function huaweiErrorCode(res: HttpResponse): { code?: string; message?: string } {
  const h = huaweiErrorSchema.safeParse(res.body);
  if (h.success) return { code: h.data.error_code, message: h.data.error_msg };
  const o = openstackErrorSchema.safeParse(res.body);
  if (o.success) {
    const [kind, v] = Object.entries(o.data)[0] ?? [];
    if (kind && v) {
      // VBS puts Huawei codes inside OpenStack messages, e.g. "VolumeBackup.0113 ...".
      const inner = /\b([A-Za-z]+\.\d{4})\b/.exec(v.message)?.[1];
      return { code: inner ?? kind, message: v.message };
    }
  }
  return {};
}

/** APIG throttling and status codes, for answers no service code explains (IAM, and classifyHuawei). */
export function huaweiError(res: HttpResponse, what: string): ProviderError {
  const { code, message } = huaweiErrorCode(res);
  if (res.status === 429 || code === 'APIG.0308' || code === 'APIGW.0308') {
    const err = classifyStatus(res, what, code, message);
    return new ProviderError('transient', err.message, {
      ...err.info,
      retryAfterMs: err.info.retryAfterMs ?? APIG_THROTTLE_DELAY_MS,
    });
  }
  return classifyStatus(res, what, code, message);
}

/** One Huawei service's own error codes, read by classifyHuawei before anything generic. */
export interface HuaweiDialect {
  /** The service's "no such backup" codes: the only answers that ever mean not-found. */
  notFound: ReadonlySet<string>;
  /** How a message names the marker a wrong endpoint lacks, e.g. "itemNotFound". */
  marker: string;
  busy?: ReadonlySet<string>;
  transient?: ReadonlySet<string>;
  /** Code → why retrying cannot help (shown after the provider's message). */
  blocked?: ReadonlyMap<string, string>;
  /** Readings that depend on more than the code (message patterns), after the code tables. */
  special?(answer: HuaweiAnswer, what: string): ProviderError | undefined;
}

export interface HuaweiAnswer {
  res: HttpResponse;
  code?: string;
  message?: string;
  /** "code: message", for error messages. */
  detail: string;
  info: { status: number; code?: string };
}

/**
 * The one classification of CSBS, VBS and TaurusDB answers: the service's own readings and codes
 * first, then APIG throttling and the generic status rules. A 404 that carries none of the service's
 * not-found codes (an empty or HTML 404, the gateway's APIGW.0101 "API does not exist", another
 * service's 404) is a wrong endpoint: `misconfigured`, naming the account's endpoint, never "absent".
 */
export function classifyHuawei(
  res: HttpResponse,
  what: string,
  dialect: HuaweiDialect,
  account?: AccountRef,
): ProviderError {
  const { code, message } = huaweiErrorCode(res);
  const info = { status: res.status, code };
  // VBS messages may already start with the code they carry ("VolumeBackup.0113: ..."): said once.
  const detail = code && message?.startsWith(code) ? message : `${code}: ${message ?? ''}`.replace(/: $/, '');
  const answer: HuaweiAnswer = {
    res,
    ...(code ? { code } : {}),
    ...(message ? { message } : {}),
    detail,
    info,
  };
  if (code) {
    if (dialect.notFound.has(code)) return new ProviderError('not-found', `${what}: ${detail}`, info);
    const blocked = dialect.blocked?.get(code);
    if (blocked) return new ProviderError('blocked', `${what}: ${detail} (${blocked})`, info);
    if (dialect.busy?.has(code)) return new ProviderError('busy', `${what}: ${detail}`, info);
    if (dialect.transient?.has(code)) return new ProviderError('transient', `${what}: ${detail}`, info);
  }
  const special = dialect.special?.(answer, what);
  if (special) return special;
  if (res.status === 404)
    return misconfiguredEndpoint(res, what, {
      lacking: dialect.marker,
      account,
      ...(code ? { code, detail } : {}),
    });
  return huaweiError(res, what);
}

/** The IAM session of a Huawei account, reading its credentials at call time (never cached here). */
export function huaweiSessionFor(
  name: string,
  account: HuaweiAccountConfig,
  loaded: LoadedConfig,
  http: HttpClient,
): HuaweiSession {
  return new HuaweiSession(
    http,
    account,
    () => ({
      username: loaded.secret(account.credentials.username),
      password: loaded.secret(account.credentials.password),
    }),
    Date.now,
    name,
  );
}

/**
 * A Huawei timestamp as ISO-8601 UTC; they often carry no zone ("2017-04-18T01:21:52.701973"), read
 * as UTC. A missing or unreadable one is passed on verbatim ('' when missing): the planner keeps such
 * a backup ("creation time unknown"), it never becomes 1970 or a failed listing.
 */
export function utcIso(t: string | null | undefined): string {
  if (!t) return '';
  // Only the documented shape: Date.parse alone reads strings like "1" or "May 3" as some date.
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(t)) return t;
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? t : new Date(ms).toISOString();
}

/**
 * What the Huawei service adapters (VBS, CSBS, TaurusDB) share: the account, its IAM session and the
 * project-scoped path of the service's API version. Each adapter keeps only its own service's calls.
 */
export abstract class HuaweiServiceAdapter {
  protected readonly ref: AccountRef;
  /** The API version in the service's paths (`/v1/{project_id}/...`, `/v3/{project_id}/...`). */
  protected abstract readonly apiVersion: 'v1' | 'v3';

  constructor(
    protected readonly accountName: string,
    protected readonly account: HuaweiAccountConfig,
    protected readonly session: HuaweiSession,
  ) {
    this.ref = { name: accountName, endpoint: account.endpoint };
  }

  protected path(rest: string): string {
    return `/${this.apiVersion}/${encodeURIComponent(this.account.projectId)}${rest}`;
  }
}

/**
 * The account probe: per configured account, authenticate and make one harmless read (the first page
 * of the backup listing), then report OK with the time taken, or the exact problem and the worker-config
 * field that fixes it (DNS, connection refused, TLS, credentials refused, a path that is not the
 * provider's API, a timeout). Used by `retention-cleanup validate --config FILE --probe` and by the
 * worker at start (worker/main.ts), which logs each result and starts anyway: a provider may be down
 * for a moment, and items of an account that is really misconfigured fail naming the endpoint.
 * Messages carry origins and paths, never credentials or query strings.
 */
import type { Logger } from '@temporalio/common';
import { certificateProblem, redactUrl } from '../activities/http';
import { isProviderError, type ProviderError } from '../activities/provider-error';
import { AdapterRegistry } from '../activities/providers/registry';
import type { ProviderKind } from '../contract/model';
import { ConfigError, type AccountConfig, type LoadedConfig } from './config';

export const PROBE_TIMEOUT_MS = 15_000;

export interface ProbeResult {
  account: string;
  provider: ProviderKind;
  /** The account's endpoint, origin and path only. */
  endpoint: string;
  ok: boolean;
  /** How long the probe took (authentication included). */
  ms: number;
  /** When not ok: what went wrong, in a few words ("DNS", "TLS", "wrong path"...). */
  problem?: ProbeProblem;
  /** When not ok: the worker-config field to fix, e.g. "accounts.vbs-prod.endpoint". */
  field?: string;
  /** When not ok: the whole explanation, naming the field. */
  message?: string;
}

export type ProbeProblem =
  | 'DNS'
  | 'connection refused'
  | 'connection failed'
  | 'TLS'
  | 'timeout'
  | 'credentials refused'
  | 'credentials unavailable'
  | 'wrong path'
  | 'unexpected answer'
  | 'provider error';

/**
 * Probes every account at once, with adapters of its own (HTTP pools and tokens apart from the
 * worker's, so what the probe does never shows in the deletions' metrics).
 */
export async function probeAccounts(
  loaded: LoadedConfig,
  opts: { timeoutMs?: number } = {},
): Promise<ProbeResult[]> {
  const adapters = new AdapterRegistry(loaded);
  try {
    return await Promise.all(
      Object.entries(loaded.config.accounts).map(([name, account]) =>
        probeAccount(adapters, name, account, opts.timeoutMs ?? PROBE_TIMEOUT_MS),
      ),
    );
  } finally {
    await adapters.close();
  }
}

async function probeAccount(
  adapters: AdapterRegistry,
  name: string,
  account: AccountConfig,
  timeoutMs: number,
): Promise<ProbeResult> {
  const base = { account: name, provider: account.provider, endpoint: redactUrl(account.endpoint) };
  const started = Date.now();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await adapters.get(name).listBackups(undefined, { signal });
    return { ...base, ok: true, ms: Date.now() - started };
  } catch (err) {
    const found = signal.aborted ? timedOut(name, account, timeoutMs) : diagnose(err, name, account);
    return {
      ...base,
      ok: false,
      ms: Date.now() - started,
      problem: found.problem,
      field: found.field,
      message: `${found.problem}: ${found.detail}${found.detail.includes(found.field) ? '' : `; check ${found.field}`}`,
    };
  }
}

interface Diagnosis {
  problem: ProbeProblem;
  field: string;
  detail: string;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function timedOut(name: string, account: AccountConfig, timeoutMs: number): Diagnosis {
  const iam = 'iamEndpoint' in account ? ` (or accounts.${name}.iamEndpoint)` : '';
  return {
    problem: 'timeout',
    field: `accounts.${name}.endpoint`,
    detail: `no answer within ${timeoutMs / 1000} s from ${redactUrl(account.endpoint)}${iam}: a firewall, a wrong port, or a provider that is down`,
  };
}

function diagnose(err: unknown, name: string, account: AccountConfig): Diagnosis {
  const at = (field: string) => `accounts.${name}.${field}`;
  if (err instanceof ConfigError)
    // A credential reference that does not resolve here (unset variable, missing file): never its value.
    return { problem: 'credentials unavailable', field: at('credentials'), detail: err.message };
  if (!isProviderError(err))
    return {
      problem: 'provider error',
      field: at('endpoint'),
      detail: String((err as Error)?.message ?? err),
    };
  const { transport, url } = err.context;
  const where = url ? fieldOfUrl(url, account) : 'endpoint';
  if (transport && DNS_CODES.has(transport))
    return {
      problem: 'DNS',
      field: at(where),
      detail: `cannot resolve the host of ${originOf(url)} (${transport})`,
    };
  if (transport === 'ECONNREFUSED')
    return {
      problem: 'connection refused',
      field: at(where),
      detail: `nothing accepts connections at ${originOf(url)} (ECONNREFUSED): a wrong host or port`,
    };
  if (transport && TIMEOUT_CODES.has(transport))
    return { problem: 'timeout', field: at(where), detail: err.message };
  const certificate = certificateProblem(transport);
  if (certificate)
    return {
      problem: 'TLS',
      field: at(certificate === 'untrusted' ? 'tls.caFile' : where),
      detail: err.message,
    };
  if (transport) return { problem: 'connection failed', field: at(where), detail: err.message };
  return byKind(err, at);
}

function byKind(err: ProviderError, at: (field: string) => string): Diagnosis {
  switch (err.kind) {
    case 'misconfigured':
      return { problem: 'wrong path', field: err.context.field ?? at('endpoint'), detail: err.message };
    case 'auth':
      return { problem: 'credentials refused', field: at('credentials'), detail: err.message };
    case 'malformed':
      return {
        problem: 'unexpected answer',
        field: at('endpoint'),
        detail: `${err.message} (is this the provider's API?)`,
      };
    default:
      return { problem: 'provider error', field: at('endpoint'), detail: err.message };
  }
}

/** Which configured address a failed request went to: the IAM endpoint or the service's. */
function fieldOfUrl(url: string, account: AccountConfig): 'endpoint' | 'iamEndpoint' {
  const iam = 'iamEndpoint' in account ? redactUrl(account.iamEndpoint).replace(/\/$/, '') : undefined;
  return iam && url.startsWith(iam) ? 'iamEndpoint' : 'endpoint';
}

function originOf(url: string | undefined): string {
  if (!url) return 'the endpoint';
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** One line per account, for logs. */
export function probeLine(r: ProbeResult): string {
  return r.ok
    ? `account ${r.account} (${r.provider}, ${r.endpoint}): OK in ${r.ms} ms`
    : `account ${r.account} (${r.provider}, ${r.endpoint}): ${r.message}`;
}

/**
 * The worker's start-up check: probes every account and logs each result, INFO when OK and WARN
 * otherwise. Never throws: the worker runs either way.
 */
export async function logAccountProbe(loaded: LoadedConfig, logger: Logger): Promise<ProbeResult[]> {
  let results: ProbeResult[];
  try {
    results = await probeAccounts(loaded);
  } catch (err) {
    logger.warn(`account probe failed: ${(err as Error)?.message ?? String(err)}`);
    return [];
  }
  for (const r of results) {
    const meta = {
      account: r.account,
      provider: r.provider,
      endpoint: r.endpoint,
      ms: r.ms,
      ...(r.ok ? {} : { problem: r.problem, field: r.field }),
    };
    if (r.ok) logger.info(probeLine(r), meta);
    else logger.warn(probeLine(r), meta);
  }
  return results;
}

/**
 * How every adapter reports a provider answer that is not a plain success. The deletion activity
 * turns the kind into an outcome (activities/deletion/shared.ts) or a Temporal failure (toFailure, below).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FAILURE } from '../contract/failure-types';
import { BUSY_RETRY_DELAY_MS } from '../contract/retry-rules';

export type ProviderErrorKind =
  /** 5xx, 429, resets, timeouts: retry with backoff, honouring retryAfterMs. */
  | 'transient'
  /** Another operation runs on that backup: retry later. */
  | 'busy'
  /** The backup does not exist (any more): only ever from the provider's own not-found marker. */
  | 'not-found'
  /** The provider refuses for a reason retries cannot fix (in use, automated, legacy service closed). */
  | 'blocked'
  /** A deletion is already running on it (JSA 422/1017 while DELETING): keep observing. */
  | 'in-progress'
  /** Credentials refused even after a fresh token. */
  | 'auth'
  /**
   * The account's configuration is wrong, not the backup: a 404 without the provider's own not-found
   * marker (an empty or HTML 404, a gateway's "no such API") means the endpoint names no such API.
   * Never read as "absent" (README "Guarantees": a misconfiguration never reads as success).
   */
  | 'misconfigured'
  /** Any other refusal (4xx): our request is wrong; retrying will not help. */
  | 'rejected'
  /** The answer does not match the documented contract (schema, content type, truncated body). */
  | 'malformed';

/** Where an error happened, for an operator (never serialised into workflow payloads). */
export interface ProviderErrorContext {
  /** The worker-config field to fix, e.g. "accounts.vbs-prod.endpoint". */
  field?: string;
  /** The request's URL, origin and path only (never the query or credentials). */
  url?: string;
  /** The transport failure's code (ENOTFOUND, ECONNREFUSED, UND_ERR_CONNECT_TIMEOUT, a TLS code...). */
  transport?: string;
}

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly info: { status?: number; code?: string; retryAfterMs?: number } = {},
    readonly context: ProviderErrorContext = {},
  ) {
    super(message);
  }
}

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}

/**
 * Transient and busy answers are retried by Temporal (Retry-After becomes nextRetryDelay); everything
 * else fails at once with a typed, non-retryable failure that keeps the provider's code.
 */
export function toFailure(err: ProviderError): ApplicationFailure {
  const details = [{ code: err.info.code, status: err.info.status }];
  switch (err.kind) {
    case 'transient':
    case 'busy':
      return ApplicationFailure.create({
        type: err.kind === 'busy' ? 'ProviderBusy' : 'ProviderTransient',
        message: err.message,
        details,
        nextRetryDelay: err.info.retryAfterMs ?? (err.kind === 'busy' ? BUSY_RETRY_DELAY_MS : undefined),
      });
    case 'misconfigured':
      return ApplicationFailure.create({
        type: FAILURE.AccountMisconfigured,
        message: err.message,
        details,
        nonRetryable: true,
      });
    case 'malformed':
      return ApplicationFailure.create({
        type: FAILURE.InvalidProviderResponse,
        message: err.message,
        details,
        nonRetryable: true,
      });
    default:
      return ApplicationFailure.create({
        type: FAILURE.ProviderRejected,
        message: err.message,
        details,
        nonRetryable: true,
      });
  }
}

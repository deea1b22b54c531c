/**
 * How every adapter reports a provider answer that is not a plain success. The deletion activity
 * turns the kind into an outcome or a Temporal failure, in one place (activities/delete-backup.ts).
 */
export type ProviderErrorKind =
  /** 5xx, 429, resets, timeouts: retry with backoff, honouring retryAfterMs. */
  | 'transient'
  /** Another operation runs on that backup: retry later. */
  | 'busy'
  /** The backup does not exist (any more). */
  | 'not-found'
  /** The provider refuses for a reason retries cannot fix (in use, automated, legacy service closed). */
  | 'blocked'
  /** A deletion is already running on it (JSA 422/1017 while DELETING): keep observing. */
  | 'in-progress'
  /** Credentials refused even after a fresh token. */
  | 'auth'
  /** Any other refusal (4xx): our request is wrong; retrying will not help. */
  | 'rejected'
  /** The answer does not match the documented contract (schema, content type, truncated body). */
  | 'malformed';

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly info: { status?: number; code?: string; retryAfterMs?: number } = {},
  ) {
    super(message);
  }
}

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}

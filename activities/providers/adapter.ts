/**
 * The one interface every provider adapter implements. Adapters speak the provider's HTTP dialect and
 * classify its answers; the generic deletion activity (activities/deletion/) drives them.
 */
import type { z } from 'zod';
import type { BackupRecord, ItemRef } from '../../contract/model';
import { formatPath } from '../../contract/validation';
import type { AccountConfig, LoadedConfig } from '../../worker/config';
import { redactUrl, truncate, type HttpClient, type HttpResponse } from '../http';
import { ProviderError } from '../provider-error';

/**
 * What a retried attempt needs to resume instead of repeating the delete (Veeam: the session id). The key `note` says what an
 * accepted answer carried that did not match its documented shape; it ends up in the item's reason
 * (README, "Guarantees": An accepted delete keeps its handle).
 */
export type DeletionHandle = Record<string, string>;

export type Observation =
  /** `note`: what the provider said along with it (a Veeam `Warning`), kept in the item's reason. */
  | { state: 'gone'; note?: string }
  | { state: 'pending'; status: string }
  | { state: 'failed'; status: string; reason: string; code?: string }
  | { state: 'blocked'; status: string; reason: string; code?: string };

export interface CallContext {
  signal?: AbortSignal;
}

export interface ListPage {
  records: BackupRecord[];
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string;
  /**
   * How many backups the provider says the whole listing holds (Veeam `totalCount`, JSA
   * `Content-Range` total, TaurusDB `total_count`); absent where the API gives no count (CSBS, VBS).
   * The listing loop (activities/listing.ts) refuses a listing whose records disagree with it.
   */
  total?: number;
  /**
   * Offset pagination: the offset this page was asked for, and the one the provider says it answered
   * (Veeam `offset`, JSA `Content-Range` start) when it says one. A page that starts elsewhere than
   * asked is refused by the listing loop.
   */
  offset?: { asked: number; answered?: number };
}

export interface ProviderAdapter {
  /**
   * Asks the provider to delete the item. Resolves once the provider accepted the request, with what
   * is needed to observe it. Throws ProviderError for everything else (not-found, blocked, busy...).
   */
  requestDeletion(item: ItemRef, ctx: CallContext): Promise<DeletionHandle>;
  /** One look at the deletion's progress. not-found is reported as `{state: 'gone'}`, not thrown. */
  observeDeletion(item: ItemRef, handle: DeletionHandle, ctx: CallContext): Promise<Observation>;
  /** One page of the account's backups, normalised. */
  listBackups(cursor: string | undefined, ctx: CallContext): Promise<ListPage>;
  /**
   * Set by providers whose delete request must never be repeated (Veeam: a second call starts a second
   * job session). The deletion activity then records "requesting" before the request, and a retry that
   * finds that record without an answer asks this instead of requesting again: is anything of the item
   * still there?
   */
  readonly neverRepeatDelete?: {
    stillThere(item: ItemRef, ctx: CallContext): Promise<boolean>;
    /**
     * Asked first (README "Guarantees": The report never contradicts the provider, Never repeated): did the provider start a
     * deletion of the item at or after `sinceMs` (ms epoch, when our request was about to go out)?
     * `started`: resume it; `none`: the provider shows none, so the request may be sent once;
     * `unknown`: the provider cannot say (no such query, filters ignored), so `stillThere` decides.
     */
    findStarted?(
      item: ItemRef,
      sinceMs: number,
      ctx: CallContext,
    ): Promise<{ started: DeletionHandle } | { none: true } | { unknown: string }>;
  };
  /**
   * The `pending` statuses observeDeletion reports while a deletion runs (as opposed to a backup at
   * rest): a re-sent item in one of them is observed, never requested again (activities/resent-items.ts).
   */
  readonly deletingStatuses?: ReadonlySet<string>;
}

/** The configured account an adapter speaks for, named in configuration errors. */
export interface AccountRef {
  name: string;
  endpoint: string;
}

/**
 * A 404 that lacks the provider's own not-found marker: the address names no such API (a typo in the
 * endpoint, a wrong path, a proxy's HTML page), so it is the account's configuration that is wrong,
 * not the backup that is gone. The one place such an answer becomes an error; never "absent".
 */
export function misconfiguredEndpoint(
  res: HttpResponse,
  what: string,
  opts: {
    /** What a real answer would have carried, e.g. "itemNotFound" or "code 1001". */
    lacking: string;
    account: AccountRef | undefined;
    /** The worker-config field that holds the address. */
    field?: 'endpoint' | 'iamEndpoint';
    /** The provider-style code and message read from the body, when there were any. */
    code?: string;
    detail?: string;
  },
): ProviderError {
  const { account, field = 'endpoint', code } = opts;
  const html = /html/i.test(res.headers['content-type'] ?? '') || /^\s*</.test(res.text);
  const body = !res.text.trim()
    ? 'empty body'
    : html
      ? 'HTML body'
      : (opts.detail ?? truncate(res.text.replace(/\s+/g, ' '), 80));
  const where = account
    ? `accounts.${account.name}.${field} (${redactUrl(account.endpoint)})`
    : `the account's ${field}`;
  return new ProviderError(
    'misconfigured',
    `${what}: HTTP 404 without ${opts.lacking} (${body}): check ${where}`,
    { status: res.status, ...(code ? { code } : {}) },
    account ? { field: `accounts.${account.name}.${field}` } : {},
  );
}

/** Builds the adapter of one configured account (one per account per worker process). */
export type AdapterFactory = (
  name: string,
  account: AccountConfig,
  loaded: LoadedConfig,
  http: HttpClient,
) => ProviderAdapter;

/**
 * Validates a provider body against its documented shape. A mismatch is `malformed` and names the
 * field, so an operator can tell a provider change from a bug of ours.
 */
export function parseBody<S extends z.ZodType>(schema: S, res: HttpResponse, what: string): z.output<S> {
  if (typeof res.body !== 'object' || res.body === null) {
    const ct = res.headers['content-type'] ?? 'none';
    throw new ProviderError(
      'malformed',
      `${what}: expected a JSON body (HTTP ${res.status}, content-type ${ct}), got ${JSON.stringify(res.text.slice(0, 80))}`,
      {
        status: res.status,
      },
    );
  }
  const parsed = schema.safeParse(res.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = formatPath(issue.path) || '(body)';
    throw new ProviderError('malformed', `${what}: field ${field}: ${issue.message} (HTTP ${res.status})`, {
      status: res.status,
    });
  }
  return parsed.data;
}

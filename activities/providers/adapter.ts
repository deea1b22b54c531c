/**
 * The one interface every provider adapter implements. Adapters speak the provider's HTTP dialect and
 * classify its answers; the generic deletion activity (activities/delete-backup.ts) drives them.
 */
import type { z } from 'zod';
import type { BackupRecord, ItemRef } from '../../workflows/model';
import { formatPath } from '../../workflows/validation';
import type { AccountConfig, LoadedConfig } from '../../worker/config';
import type { HttpClient, HttpResponse } from '../http';
import { ProviderError } from '../provider-error';

/** What a retried attempt needs to resume instead of repeating the delete (Veeam: the session id). */
export type DeletionHandle = Record<string, string>;

export type Observation =
  | { state: 'gone' }
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
  readonly neverRepeatDelete?: { stillThere(item: ItemRef, ctx: CallContext): Promise<boolean> };
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

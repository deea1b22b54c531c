/**
 * Listing an account for a policy run, with the checks that make a listing safe to plan on (README
 * "Guarantees": a listing that disagrees with its own counts is not planned on). A policy decides
 * "the newest N" or "the VM's newest restore point" from the listing, so a partial or doubled one
 * deletes the wrong backups. The account's listing fails, with a non-retryable UntrustworthyListing
 * naming the account and what disagreed, when:
 * - a page starts elsewhere than asked (the provider answers another offset than the requested one),
 * - a page starts with the same backup as an earlier page, or points back to a page already read,
 * - the provider's own count (Veeam totalCount, JSA Content-Range, TaurusDB total_count) changes
 *   between pages, or differs from the distinct backups listed at the end.
 * The rule is strict on purpose: offset pages shift when a backup is created or deleted mid-listing,
 * and only an unchanged count that equals what was seen shows that nothing was skipped
 * (docs/providers.md, "Listings"). A backup listed twice (offset pages shifting while backups are
 * created) is merged by id before planning, and each repeat is logged.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AccountLimits, BackupRecord } from '../contract/model';
import type { ListPage, ProviderAdapter } from './providers/adapter';
import { isProviderError, toFailure } from './provider-error';
import { FAILURE } from '../contract/failure-types';

/** One backup's identity in a listing: the provider's own id (Veeam: the restore point, not the VM). */
function recordKey(r: BackupRecord): string {
  return `${r.checkpointId ?? ''}/${r.backupId}`;
}

/**
 * Checks an account's pages as they come and merges repeated records; `finish` checks the end.
 * Pure (no Temporal context), so adapters use it too (Veeam's "is anything of the VM left?").
 */
export class ListingCheck {
  private readonly records = new Map<string, BackupRecord>();
  private readonly firstOfPage = new Map<string, number>();
  private readonly cursors = new Set<string>();
  private total: number | undefined;
  private pages = 0;

  constructor(
    private readonly account: string,
    /** Called for each record listed again (already merged away). */
    private readonly onRepeat: (record: BackupRecord, page: number) => void = () => {},
  ) {}

  add(page: ListPage): void {
    const n = ++this.pages;
    const { asked, answered } = page.offset ?? {};
    if (answered !== undefined && answered !== asked)
      this.fail(
        `page ${n} was asked from offset ${asked} and the provider answered from offset ${answered} (it ignores the offset)`,
      );
    const first = page.records[0];
    if (first) {
      const earlier = this.firstOfPage.get(recordKey(first));
      if (earlier !== undefined)
        this.fail(
          `page ${n} starts with the same backup as page ${earlier} (${JSON.stringify(first.backupId)}): the provider repeats pages`,
        );
      this.firstOfPage.set(recordKey(first), n);
    }
    if (page.total !== undefined) {
      if (this.total !== undefined && page.total !== this.total)
        this.fail(
          `the provider's count changed from ${this.total} to ${page.total} at page ${n}: backups were created or deleted while listing, so a page may have skipped one; plan again later`,
        );
      this.total = page.total;
    }
    for (const r of page.records) {
      const key = recordKey(r);
      if (this.records.has(key)) this.onRepeat(r, n);
      else this.records.set(key, r);
    }
    if (page.next !== undefined) {
      if (this.cursors.has(page.next))
        this.fail(`page ${n} points back to a page already read (cursor ${JSON.stringify(page.next)})`);
      this.cursors.add(page.next);
    }
  }

  /** The distinct records, once they are checked against the provider's own count. */
  finish(): BackupRecord[] {
    const seen = this.records.size;
    const total = this.total;
    if (total !== undefined && seen !== total)
      this.fail(
        seen < total
          ? `the provider counts ${total} backups but ${seen} distinct ones were listed (${total - seen} never seen)`
          : `${seen} distinct backups were listed but the provider counts only ${total}`,
      );
    return [...this.records.values()];
  }

  private fail(why: string): never {
    throw ApplicationFailure.create({
      type: FAILURE.UntrustworthyListing,
      nonRetryable: true,
      message: `account ${this.account}: the listing cannot be trusted, so nothing of this account is planned: ${why}`,
      details: [{ account: this.account }],
    });
  }
}

/** Every backup of the account, checked and merged (see above); paced by the account's request rate. */
export async function listAll(
  adapter: ProviderAdapter,
  limits: AccountLimits,
  onPage?: (n: number) => void,
): Promise<BackupRecord[]> {
  const ctx = Context.current();
  try {
    return await listChecked(adapter, limits, {
      sleep: (ms) => ctx.sleep(ms),
      signal: ctx.cancellationSignal,
      onRepeat: (r, page) =>
        ctx.log.warn('backup listed twice (offset pages shifted while listing): merged', {
          account: limits.name,
          id: r.backupId,
          ...(r.checkpointId ? { checkpointId: r.checkpointId } : {}),
          page,
        }),
      ...(onPage ? { onPage } : {}),
    });
  } catch (err) {
    throw isProviderError(err) ? toFailure(err) : err;
  }
}

export interface ListingHooks {
  /** Waits between pages (an activity's ctx.sleep, or a timer outside Temporal). */
  sleep(ms: number): Promise<void>;
  signal?: AbortSignal;
  onRepeat?: (record: BackupRecord, page: number) => void;
  onPage?: (n: number) => void;
}

/**
 * The listing loop without a Temporal context, shared by discovery (listAll) and the what-if
 * (insight/what-if.ts), so both read an account the same way: the same checks, and the same pause
 * between pages (list calls count against the same API limits as deletions). Provider errors are
 * thrown as they are.
 */
export async function listChecked(
  adapter: ProviderAdapter,
  limits: AccountLimits,
  hooks: ListingHooks,
): Promise<BackupRecord[]> {
  const check = new ListingCheck(limits.name, hooks.onRepeat);
  const pauseMs = Math.ceil(1000 / limits.requestsPerSecond);
  let cursor: string | undefined;
  let pages = 0;
  do {
    if (pages > 0) await hooks.sleep(pauseMs);
    const page = await adapter.listBackups(cursor, hooks.signal ? { signal: hooks.signal } : {});
    check.add(page);
    cursor = page.next;
    hooks.onPage?.(++pages);
  } while (cursor);
  return check.finish();
}

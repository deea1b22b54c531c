/**
 * What a run freed, per account: backups and bytes by outcome, summed from its outcomes as they
 * stream (the sizes come from the listings: policy runs carry each backup's size to its outcome;
 * items without one count apart, never as 0). Read by `report --chart` and its per-account table.
 */
import type { ItemOutcome, OutcomeKind } from '../contract/model';
import { addSize, emptyTotal, fmtTotalBytes, type ByteTotal } from './bytes';
import type { AccountBar } from './chart';

export type AccountBytes = Record<OutcomeKind, ByteTotal>;

export class RunBytes {
  readonly accounts = new Map<string, AccountBytes>();

  add(o: ItemOutcome): void {
    if (o.duplicate) return; // merged into the backup's first outcome, counted there
    let a = this.accounts.get(o.account);
    if (!a) {
      a = {
        deleted: emptyTotal(),
        absent: emptyTotal(),
        blocked: emptyTotal(),
        failed: emptyTotal(),
        skipped: emptyTotal(),
      };
      this.accounts.set(o.account, a);
    }
    addSize(a[o.outcome], o.sizeBytes);
  }

  /** Accounts in name order. */
  sorted(): Array<[string, AccountBytes]> {
    return [...this.accounts.entries()].sort(([x], [y]) => x.localeCompare(y));
  }

  /** One bar per account: what was deleted (a dry run's would-be deletions are not deletions). */
  deletedBars(): AccountBar[] {
    return this.sorted().map(([account, a]) => ({
      account,
      series: 'deleted',
      backups: a.deleted.count,
      bytes: a.deleted.bytes,
    }));
  }

  /** Rows for a table: account, deleted (count and human bytes), then the other outcomes' counts. */
  tableRows(fmtInt: (n: number) => string): string[][] {
    const cell = (t: ByteTotal) => (t.count ? `${fmtInt(t.count)} (${fmtTotalBytes(t)})` : '0');
    return [
      ['ACCOUNT', 'DELETED', 'ABSENT', 'BLOCKED', 'FAILED', 'SKIPPED'],
      ...this.sorted().map(([account, a]) => [
        account,
        cell(a.deleted),
        fmtInt(a.absent.count),
        fmtInt(a.blocked.count),
        fmtInt(a.failed.count),
        fmtInt(a.skipped.count),
      ]),
    ];
  }
}

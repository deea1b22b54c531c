import { z } from 'zod';
import { itemKey, type BackupRecord, type ItemRef } from '../contract/model';
import { compareStrings } from './order';

/**
 * Guards: limits checked on a plan before anything is deleted, so that a wrong policy, a provider
 * listing only half an account, or a clock far in the future cannot wipe out an account.
 * Pure: the caller supplies the population (how many backups exist) and decides what to do with a
 * violation (normally: refuse to start and show the messages).
 *
 * Counting unit: a deletion item (ItemRef), deduplicated. For Veeam one item is a whole VM, so the
 * population for Veeam should count VMs as well; `populationFromRecords` counts distinct items,
 * which does exactly that.
 */

const fraction = (what: string) =>
  z
    .number({ error: `expected a fraction between 0 and 1 (${what}; 0.5 means 50%)` })
    .min(0, { error: `expected a fraction between 0 and 1 (${what}; 0.5 means 50%)` })
    .max(1, { error: `expected a fraction between 0 and 1 (${what}; 0.5 means 50%)` });

export const guardsSchema = z.strictObject(
  {
    /** Most deletion items one plan may contain, over all accounts. */
    maxDeletions: z
      .number({ error: 'expected a whole number between 0 and 1000000' })
      .int({ error: 'expected a whole number between 0 and 1000000' })
      .min(0, { error: 'expected a whole number between 0 and 1000000' })
      .max(1_000_000, { error: 'expected a whole number between 0 and 1000000' })
      .optional(),
    /** Most deletion items one plan may contain on any one account. */
    maxDeletionsPerAccount: z
      .number({ error: 'expected a whole number between 0 and 1000000' })
      .int({ error: 'expected a whole number between 0 and 1000000' })
      .min(0, { error: 'expected a whole number between 0 and 1000000' })
      .max(1_000_000, { error: 'expected a whole number between 0 and 1000000' })
      .optional(),
    /** Largest share of an account's backups one plan may delete. */
    maxFractionPerAccount: fraction('largest share of an account deleted by one plan').optional(),
    /** Largest share of one group's (VM, volume...) backups one plan may delete. */
    maxFractionPerGroup: fraction('largest share of a group deleted by one plan').optional(),
    /**
     * What an executed run does when it would cross a guard: "fail" (default) stops it before anything
     * is deleted; "await-approval" waits for a person, the violations shown in the plan (README,
     * "Approving deletions").
     */
    onViolation: z
      .enum(['fail', 'await-approval'], { error: 'expected "fail" (the default) or "await-approval"' })
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; possible fields: maxDeletions, maxDeletionsPerAccount, maxFractionPerAccount, maxFractionPerGroup, onViolation`
        : issue.code === 'invalid_type'
          ? 'expected an object with fields maxDeletions, maxDeletionsPerAccount, maxFractionPerAccount, maxFractionPerGroup, onViolation'
          : undefined,
  },
);
export type Guards = z.output<typeof guardsSchema>;

export interface Population {
  /** Backups (deletion items) that exist per account. */
  perAccount: Record<string, number>;
  /** Backups (deletion items) that exist per group, keyed `${account}/${group}`. */
  perGroup: Record<string, number>;
}

export type GuardName =
  | 'maxDeletions'
  | 'maxDeletionsPerAccount'
  | 'maxDeletionsPerRun'
  | 'maxFractionPerAccount'
  | 'maxFractionPerGroup';

export interface GuardViolation {
  guard: GuardName;
  /** "all accounts", the account name, `${account}/${group}`, or the item key when its group is unknown. */
  scope: string;
  /** The configured limit: a count for maxDeletions, a fraction (0..1) for the others. */
  limit: number;
  /** The plan's value in the same unit as `limit`. */
  actual: number;
  /** How many deletions over the limit the plan is. */
  excess: number;
  message: string;
}

export type GuardResult = { ok: true } | { ok: false; violations: GuardViolation[] };

/**
 * Checks a plan's deletions against the guards. `deletionGroupOf` tells which group (the `group` of
 * the records, without the account) an item belongs to; it is only needed for maxFractionPerGroup.
 * Missing population numbers fail the guard rather than pass it: a guard that cannot be checked
 * must not let the deletion through. Throws for guards that do not match `guardsSchema`.
 */
export function checkGuards(
  plan: { deletions: readonly ItemRef[] },
  population: Population,
  deletionGroupOf: (item: ItemRef) => string | undefined,
  guards: Guards,
): GuardResult {
  const parsed = guardsSchema.safeParse(guards);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.map(String).join('.') || 'guards'}: ${i.message}`,
    );
    throw new RangeError(`invalid guards: ${problems.join('; ')}`);
  }
  const g = parsed.data;
  const items = dedupe(plan.deletions);
  const violations: GuardViolation[] = checkCounts(
    new Map(countBy(items, (item) => item.account)),
    g,
    new Map(),
  );

  if (g.maxFractionPerAccount !== undefined) {
    const limit = g.maxFractionPerAccount;
    for (const [account, deleted] of countBy(items, (item) => item.account)) {
      const v = fractionViolation(
        'maxFractionPerAccount',
        account,
        `account ${JSON.stringify(account)}`,
        deleted,
        countIn(population.perAccount, account),
        limit,
      );
      if (v) violations.push(v);
    }
  }

  if (g.maxFractionPerGroup !== undefined) {
    const limit = g.maxFractionPerGroup;
    const unknown: ItemRef[] = [];
    const perGroup = countBy(items, (item) => {
      const group = deletionGroupOf(item);
      if (group === undefined) unknown.push(item);
      return group === undefined ? undefined : `${item.account}/${group}`;
    });
    for (const item of unknown) {
      const key = itemKey(item);
      violations.push({
        guard: 'maxFractionPerGroup',
        scope: key,
        limit,
        actual: 1,
        excess: 1,
        message: `maxFractionPerGroup: item ${JSON.stringify(key)} belongs to no known group, so the limit of ${percent(limit)} cannot be checked; 1 over`,
      });
    }
    for (const [key, deleted] of perGroup) {
      const slash = key.indexOf('/');
      const label = `group ${JSON.stringify(key.slice(slash + 1))} of account ${JSON.stringify(key.slice(0, slash))}`;
      const v = fractionViolation(
        'maxFractionPerGroup',
        key,
        label,
        deleted,
        countIn(population.perGroup, key),
        limit,
      );
      if (v) violations.push(v);
    }
  }

  return violations.length === 0 ? { ok: true } : { ok: false, violations };
}

/**
 * The guards that count deletions, judged on deletions per account (any run: an item list or a
 * policy's plan): `maxDeletions` over all accounts, `maxDeletionsPerAccount` of the request, and each
 * account's `maxDeletionsPerRun` from the worker config (`ceilings`), which no request can raise.
 */
export function checkCounts(
  perAccount: ReadonlyMap<string, number>,
  guards: Pick<Guards, 'maxDeletions' | 'maxDeletionsPerAccount'>,
  ceilings: ReadonlyMap<string, number>,
): GuardViolation[] {
  const violations: GuardViolation[] = [];
  const total = [...perAccount.values()].reduce((n, c) => n + c, 0);
  if (guards.maxDeletions !== undefined && total > guards.maxDeletions) {
    const excess = total - guards.maxDeletions;
    violations.push({
      guard: 'maxDeletions',
      scope: 'all accounts',
      limit: guards.maxDeletions,
      actual: total,
      excess,
      message: `maxDeletions: the plan would delete ${total} backups over all accounts (limit ${guards.maxDeletions}); ${excess} over`,
    });
  }
  const accounts = [...perAccount.keys()].sort(compareStrings);
  for (const account of accounts) {
    const n = perAccount.get(account)!;
    const perRequest = guards.maxDeletionsPerAccount;
    if (perRequest !== undefined && n > perRequest)
      violations.push(
        countViolation('maxDeletionsPerAccount', account, n, perRequest, 'guards.maxDeletionsPerAccount'),
      );
    const ceiling = ceilings.get(account);
    if (ceiling !== undefined && n > ceiling)
      violations.push(
        countViolation(
          'maxDeletionsPerRun',
          account,
          n,
          ceiling,
          `the worker config's accounts.${account}.limits.maxDeletionsPerRun`,
        ),
      );
  }
  return violations;
}

function countViolation(
  guard: GuardName,
  account: string,
  n: number,
  limit: number,
  source: string,
): GuardViolation {
  return {
    guard,
    scope: account,
    limit,
    actual: n,
    excess: n - limit,
    message: `${guard}: the plan would delete ${n} backups on account ${JSON.stringify(account)} (limit ${limit}, from ${source}); ${n - limit} over`,
  };
}

function fractionViolation(
  guard: GuardName,
  scope: string,
  label: string,
  deleted: number,
  total: number | undefined,
  limit: number,
): GuardViolation | undefined {
  if (total === undefined || !Number.isFinite(total) || total < deleted) {
    // The population does not cover what the plan deletes: the numbers cannot be trusted.
    const known =
      total === undefined || !Number.isFinite(total) ? 'no backup count' : `only ${total} backups`;
    const allowed = allowedOf(limit, deleted);
    return {
      guard,
      scope,
      limit,
      actual: 1,
      excess: deleted - allowed,
      message: `${guard}: ${label} would lose ${deleted} backups but the population has ${known} for it, so the limit of ${percent(limit)} cannot be checked; ${deleted - allowed} over`,
    };
  }
  const allowed = allowedOf(limit, total);
  if (deleted <= allowed) return undefined;
  const actual = deleted / total;
  const excess = deleted - allowed;
  const [shown, shownLimit] = percents(actual, limit);
  return {
    guard,
    scope,
    limit,
    actual,
    excess,
    message: `${guard}: ${label} would lose ${shown} of its ${total} backups (${deleted} deletions, limit ${shownLimit}); ${excess} over`,
  };
}

/** Most deletions `limit` allows out of `total`; the epsilon keeps 0.29 * 100 from rounding to 28. */
function allowedOf(limit: number, total: number): number {
  return Math.floor(limit * total + 1e-9);
}

/** Both as percentages, with just enough decimals that two different values never print the same. */
function percents(actual: number, limit: number): [string, string] {
  let decimals = 0;
  while (decimals < 4 && percent(actual, decimals) === percent(limit, decimals)) decimals++;
  return [percent(actual, decimals), percent(limit, decimals)];
}

function percent(x: number, decimals = 0): string {
  const text = (x * 100).toFixed(decimals);
  return `${text.includes('.') ? text.replace(/\.?0+$/, '') : text}%`;
}

/** An own, numeric entry only: inherited properties such as "constructor" are not counts. */
function countIn(counts: Record<string, number>, key: string): number | undefined {
  if (!Object.prototype.hasOwnProperty.call(counts, key)) return undefined;
  const n = counts[key];
  return typeof n === 'number' ? n : undefined;
}

function dedupe(items: readonly ItemRef[]): ItemRef[] {
  const byKey = new Map<string, ItemRef>();
  for (const item of items) byKey.set(itemKey(item), item);
  return [...byKey.values()];
}

/** Counts per key, skipping undefined keys; sorted by key so violations come out in a stable order. */
function countBy<T>(items: readonly T[], keyOf: (item: T) => string | undefined): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const key = keyOf(item);
    if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => compareStrings(a[0], b[0]));
}

/**
 * The population of a listing: distinct deletion items per account and per group. Pass every
 * backup the provider listed (not only the selected groups), so fractions are of what exists.
 */
export function populationFromRecords(records: readonly BackupRecord[]): Population {
  const accountItems = new Map<string, Set<string>>();
  const groupItems = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, key: string, item: string): void => {
    const set = map.get(key);
    if (set) set.add(item);
    else map.set(key, new Set([item]));
  };
  for (const r of records) {
    const key = itemKey(r);
    add(accountItems, r.account, key);
    add(groupItems, `${r.account}/${r.group}`, key);
  }
  const sizes = (map: Map<string, Set<string>>): Record<string, number> => {
    // fromEntries defines own properties, so a group named "__proto__" is just a key.
    return Object.fromEntries(
      [...map.entries()].sort((a, b) => compareStrings(a[0], b[0])).map(([k, v]) => [k, v.size]),
    );
  };
  return { perAccount: sizes(accountItems), perGroup: sizes(groupItems) };
}

/**
 * `deletionGroupOf` for checkGuards, from the same listing. When one item is listed under several
 * groups, the first group in code-unit order is used, so the answer does not depend on input order.
 */
export function groupOfFromRecords(records: readonly BackupRecord[]): (item: ItemRef) => string | undefined {
  const groupByItem = new Map<string, string>();
  for (const r of records) {
    const key = itemKey(r);
    const known = groupByItem.get(key);
    if (known === undefined || compareStrings(r.group, known) < 0) groupByItem.set(key, r.group);
  }
  return (item) => groupByItem.get(itemKey(item));
}

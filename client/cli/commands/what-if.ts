/**
 * `plan --policy new.json [--compare current.json] --config FILE`: what a policy change would do,
 * before any run (insight/what-if.ts). Lists the accounts through the worker's adapters with the
 * worker config's endpoints, credentials and limits; read-only, no Temporal. The lead merges this with
 * `plan <workflowId>` (the plan shown for approval) into one command that dispatches on --policy.
 */
import type { RetentionPolicyInput } from '../../../policy';
import type { WhatIfResult } from '../../../insight/what-if';
import { fmtTotalBytes, type ByteTotal } from '../../../insight/bytes';
import { fmtInt, table } from '../../render';
import { defineCommand } from '../command';
import { EXIT, UsageError } from '../errors';
import { readDataFile } from '../input';
import { lazy, print, printJson, say } from '../io';

export const whatIfCommand = defineCommand({
  name: 'plan',
  summary: 'what-if: what a policy change would delete or keep, per account and group (reads only)',
  description: `Lists the accounts of a worker config through the worker's own adapters (read-only: only listing
calls, paced by each account's requestsPerSecond; nothing is ever deleted, no Temporal is needed),
plans the policy of --policy and the one of --compare on the same listing, and prints per account and
group the backups and bytes the new policy would delete in addition (MORE DELETED) or keep in addition
(MORE KEPT), and the oldest restore point each policy keeps. Without --compare the new policy is
compared with deleting nothing.

A policy file is a policy ({"rules": {...}, "minKeep": 1, "protect": ..., "groups": [...]}), optionally
with "accounts" (default: every account of the config), or a request file with a "policy" field.
Bytes: sums of the sizes the listings give; backups without a size are counted apart ("+ N unsized"),
never as 0. Exit 0, or 2 for bad input naming the file and field.`,
  options: {
    policy: { type: 'string', value: 'FILE', help: 'the proposed policy (JSON or YAML)' },
    compare: { type: 'string', value: 'FILE', help: 'the current policy to compare with' },
    config: { type: 'string', value: 'FILE', help: 'the worker config whose accounts to list (required)' },
    chart: {
      type: 'string',
      value: 'FILE',
      help: 'also draw bytes and backups deleted per account (.png or .svg)',
    },
    json: { type: 'boolean', help: 'the comparison as JSON on stdout (exact bytes)' },
  },
  async run({ values, help }) {
    if (!values.config)
      throw new UsageError(
        '--config FILE is required: the worker config whose accounts the what-if lists (the same file the worker runs with)',
        help(),
      );
    if (!values.policy)
      throw new UsageError('--policy FILE is required: the proposed retention policy to try', help());
    if (values.chart) checkChartOption(values.chart);
    const proposed = readPolicy(values.policy, '--policy');
    const current = values.compare ? readPolicy(values.compare, '--compare') : undefined;
    const loaded = lazy<typeof import('../../../worker/config')>('worker/config').loadWorkerConfig(
      values.config,
    );
    const configured = Object.keys(loaded.config.accounts);
    const accounts = proposed.accounts ?? current?.accounts ?? configured;
    const unknown = accounts.filter((a) => !configured.includes(a));
    if (unknown.length)
      throw new UsageError(
        `${proposed.accounts ? values.policy : values.compare}: accounts: ${unknown.map((a) => `"${a}"`).join(', ')} not in ${values.config} (it has ${configured.join(', ')})`,
      );
    say(`what-if: listing ${accounts.length} account(s) read-only; nothing is deleted`);
    const { whatIf } = lazy<typeof import('../../../insight/what-if')>('insight/what-if');
    const result = await whatIf({
      loaded,
      accounts,
      proposed: proposed.policy,
      ...(current ? { current: current.policy } : {}),
    });
    if (values.json) printJson(result);
    else print(renderWhatIf(result, values.policy, values.compare));
    if (values.chart) {
      const chart = lazy<typeof import('../../../insight/chart')>('insight/chart');
      await chart.writeChart(whatIfChartSpec(result, chart.accountChartSpec), values.chart);
      say(`chart written to ${values.chart}`);
    }
    return EXIT.OK;
  },
});

/** A --chart file that cannot be drawn is bad input (exit 2), found before anything is listed. */
export function checkChartOption(file: string): void {
  const chart = lazy<typeof import('../../../insight/chart')>('insight/chart');
  try {
    chart.checkChartPath(file);
  } catch (err) {
    if (err instanceof chart.ChartPathError) throw new UsageError(err.message);
    throw err;
  }
}

interface PolicyFile {
  policy: RetentionPolicyInput;
  accounts?: string[];
}

/** A policy (with optional accounts) or a request's "policy"; problems name the file and the field. */
export function readPolicy(file: string, option: string): PolicyFile {
  const raw = readDataFile(file, `${option} file`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new UsageError(`${file}: expected a policy object like {"rules": {"keepDaily": 7}}`);
  const obj = raw as Record<string, unknown>;
  const inner = obj.policy && typeof obj.policy === 'object' ? (obj.policy as Record<string, unknown>) : obj;
  const prefix = inner === obj ? '' : 'policy.';
  const { accounts, ...policy } = inner;
  if (
    accounts !== undefined &&
    (!Array.isArray(accounts) || accounts.some((a) => typeof a !== 'string' || !a))
  )
    throw new UsageError(
      `${file}: ${prefix}accounts: expected a list of account names from the worker config`,
    );
  const { parseRetentionPolicy } = lazy<typeof import('../../../policy')>('policy');
  const parsed = parseRetentionPolicy(policy);
  if (!parsed.ok)
    throw new UsageError(
      `${file}: not a valid retention policy:\n  ${parsed.problems.map((p) => prefix + p).join('\n  ')}`,
    );
  return { policy: policy as RetentionPolicyInput, ...(accounts ? { accounts: accounts as string[] } : {}) };
}

const cell = (t: ByteTotal) => (t.count ? `${fmtInt(t.count)} (${fmtTotalBytes(t)})` : '0');
const day = (iso: string | undefined) => (iso ? iso.slice(0, 16).replace('T', ' ') : 'none');

/** One row per group, an account row above its groups, a total row: counts with human bytes. */
export function renderWhatIf(r: WhatIfResult, policyFile: string, compareFile?: string): string {
  const was = compareFile ? 'CURRENT' : 'NOW';
  const header = [
    'ACCOUNT / GROUP',
    'LISTED',
    `DELETE (${was})`,
    'DELETE (NEW)',
    'MORE DELETED',
    'MORE KEPT',
    `OLDEST KEPT (${was})`,
    'OLDEST KEPT (NEW)',
  ];
  const rows: string[][] = [header];
  for (const a of r.accounts) {
    rows.push([
      `${a.account} (${a.provider})`,
      cell(a.listed),
      cell(a.current),
      cell(a.proposed),
      cell(a.moreDeleted),
      cell(a.moreKept),
      '',
      '',
    ]);
    for (const g of a.groups)
      rows.push([
        `  ${g.group}`,
        cell(g.listed),
        cell(g.current),
        cell(g.proposed),
        cell(g.moreDeleted),
        cell(g.moreKept),
        day(g.oldestKept.current),
        day(g.oldestKept.proposed),
      ]);
  }
  const t = r.total;
  rows.push([
    'TOTAL',
    cell(t.listed),
    cell(t.current),
    cell(t.proposed),
    cell(t.moreDeleted),
    cell(t.moreKept),
    '',
    '',
  ]);
  const against = compareFile ? `${compareFile} (current)` : 'deleting nothing';
  return [
    `What-if at ${r.now}: ${policyFile} compared with ${against}. Nothing was deleted.`,
    '',
    table(rows, 1),
    '',
    `${policyFile} would delete ${cell(t.moreDeleted)} more and keep ${cell(t.moreKept)} more backups than ${against}.`,
  ].join('\n');
}

/** Per account: what each policy deletes (both when comparing), bytes and backups. */
export function whatIfChartSpec(
  r: WhatIfResult,
  spec: typeof import('../../../insight/chart').accountChartSpec,
) {
  const bars = r.accounts.flatMap((a) => [
    ...(r.compared
      ? [{ account: a.account, series: 'current policy', backups: a.current.count, bytes: a.current.bytes }]
      : []),
    { account: a.account, series: 'proposed policy', backups: a.proposed.count, bytes: a.proposed.bytes },
  ]);
  return spec(
    bars,
    r.compared ? 'Backups and bytes each policy would delete' : 'Backups and bytes the policy would delete',
  );
}

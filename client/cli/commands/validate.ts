import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { WorkerConfig } from '../../../worker/config';
import { fmtInt, table } from '../../render';
import { validateRequest } from '../../request-validation';
import { defineCommand } from '../command';
import { EXIT, UsageError } from '../errors';
import { readDataFile } from '../input';
import { lazy, print, printJson, say } from '../io';

export const validate = defineCommand({
  name: 'validate',
  args: ['file'],
  summary: 'check a request (or with --config a worker config; --probe to reach its accounts)',
  description: `Checks a cleanup request (or, with --config, a worker config file) without contacting Temporal.
Exit 0 when valid; 2 when invalid, with each problem on its own line naming the field
(e.g. "items[3].id: must not be empty"). For a config, credential references that cannot be
resolved on this machine (unset environment variables, missing files) are reported as warnings.

--probe (with --config) also authenticates to every account and makes one harmless read (the first
page of its backup list), printing per account OK with the time taken, or the exact problem (DNS,
connection refused, TLS, credentials refused, wrong path, timeout) and the config field to fix.
Exit 1 when any account failed. The worker runs the same probe at start and logs it.`,
  options: {
    config: { type: 'boolean', help: 'the file is a worker config, not a request' },
    probe: { type: 'boolean', help: 'with --config: reach every account (login and one read), report each' },
    json: { type: 'boolean', help: 'the result as JSON on stdout' },
  },
  run({ args: { file }, values, help }) {
    if (values.probe && !values.config)
      throw new UsageError('--probe checks the accounts of a worker config: add --config', help());
    const raw = readDataFile(file, values.config ? 'config file' : 'request file');
    return values.config
      ? validateConfigFile(file, raw, Boolean(values.json), Boolean(values.probe))
      : validateRequestFile(file, raw, Boolean(values.json));
  },
});

function validateRequestFile(file: string, raw: unknown, json: boolean): number {
  const r = validateRequest(raw);
  if (!r.ok) {
    if (json) printJson({ valid: false, kind: 'request', problems: r.problems });
    say(`${file}: not a valid cleanup request:`);
    for (const p of r.problems) say(`  ${p}`);
    if (raw && typeof raw === 'object' && 'accounts' in raw)
      say('(this looks like a worker config: add --config)');
    return EXIT.USAGE;
  }
  const { items, duplicatesMerged, request, pages } = r.value;
  const accounts = [...new Set(items.map((i) => i.account))].sort();
  if (json) {
    printJson({
      valid: true,
      kind: 'request',
      items: items.length,
      duplicatesMerged,
      pages,
      accounts,
      itemsToFollow: Boolean(request.itemsToFollow),
    });
  } else {
    print(
      `${file}: valid cleanup request: ${fmtInt(items.length)} item(s)` +
        (duplicatesMerged ? ` (${fmtInt(duplicatesMerged)} duplicate(s) merged)` : '') +
        (accounts.length ? ` for account(s) ${accounts.join(', ')}` : '') +
        (request.itemsToFollow ? '; more items to follow' : ''),
    );
  }
  return EXIT.OK;
}

async function validateConfigFile(
  file: string,
  raw: unknown,
  json: boolean,
  probe: boolean,
): Promise<number> {
  const configModule = lazy<typeof import('../../../worker/config')>('worker/config');
  const { describeZodIssues } = lazy<typeof import('../../../contract/validation')>('contract/validation');
  const parsed = configModule.workerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = describeZodIssues(parsed.error);
    if (json) printJson({ valid: false, kind: 'config', problems });
    say(`${file}: not a valid worker config:`);
    for (const p of problems) say(`  ${p}`);
    if (raw && typeof raw === 'object' && 'items' in raw)
      say('(this looks like a cleanup request: drop --config)');
    return EXIT.USAGE;
  }
  const baseDir = dirname(resolve(file));
  const loaded = configModule.parseWorkerConfig(raw, file, baseDir);
  const { config } = loaded;
  const warnings = unresolvedReferences(config, baseDir);
  for (const w of warnings) say(`warning: ${w}`);
  const accounts = Object.entries(config.accounts).map(([name, a]) => ({
    name,
    provider: a.provider,
    endpoint: a.endpoint,
    maxConcurrent: a.limits.maxConcurrent,
  }));
  const probed = probe
    ? await lazy<typeof import('../../../worker/probe')>('worker/probe').probeAccounts(loaded)
    : undefined;
  if (json)
    printJson({
      valid: true,
      kind: 'config',
      taskQueue: config.taskQueue,
      accounts,
      warnings,
      ...(probed ? { probe: probed } : {}),
    });
  else {
    print(
      `${file}: valid worker config: task queue "${config.taskQueue}", ${accounts.length} account(s)${config.notifications.length ? `, ${config.notifications.length} notification(s)` : ''}`,
    );
    for (const a of accounts)
      print(`  ${a.name}: ${a.provider} at ${a.endpoint}, max ${a.maxConcurrent} concurrent`);
    if (probed) print(`\n${renderProbe(probed)}`);
  }
  return probed?.some((r) => !r.ok) ? EXIT.PROBLEMS : EXIT.OK;
}

/** The probe as a table (account, provider, result, time), then each failure's explanation. */
function renderProbe(results: import('../../../worker/probe').ProbeResult[]): string {
  const rows = results.map((r) => [
    r.account,
    r.provider,
    r.ok ? 'OK' : `FAILED (${r.problem})`,
    `${r.ms} ms`,
  ]);
  const problems = results.filter((r) => !r.ok).map((r) => `  ${r.account}: ${r.message}`);
  return [table([['ACCOUNT', 'PROVIDER', 'RESULT', 'TIME'], ...rows], 3), ...problems].join('\n');
}

/**
 * Credential references and CA files that do not resolve on this machine (the worker's machine may
 * have them). Secrets are never read or printed here; only whether their references resolve.
 */
function unresolvedReferences(config: WorkerConfig, baseDir: string): string[] {
  const warnings: string[] = [];
  const checkRef = (path: string, ref: unknown) => {
    if (!ref || typeof ref !== 'object') return;
    const r = ref as { env?: string; file?: string; secret?: string };
    if (r.env !== undefined && !process.env[r.env])
      warnings.push(`${path}: environment variable ${r.env} is not set here (the worker needs it)`);
    if (r.file !== undefined && !existsSync(resolve(baseDir, r.file)))
      warnings.push(`${path}: file ${r.file} does not exist here`);
    if (r.secret !== undefined && config.secretsFile && !existsSync(resolve(baseDir, config.secretsFile))) {
      warnings.push(`${path}: secretsFile ${config.secretsFile} does not exist here`);
    }
  };
  for (const [name, account] of Object.entries(config.accounts)) {
    for (const [k, ref] of Object.entries(account.credentials))
      checkRef(`accounts.${name}.credentials.${k}`, ref);
    const caFile = account.tls?.caFile;
    if (caFile && !existsSync(resolve(baseDir, caFile)))
      warnings.push(`accounts.${name}.tls.caFile: ${caFile} does not exist here`);
  }
  // Webhook URLs behind references are credentials too (docs/operations.md, "Notifications").
  config.notifications.forEach((n, i) => checkRef(`notifications[${i}].url`, n.url));
  return warnings;
}

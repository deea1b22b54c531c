import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { WorkerConfig } from '../../../worker/config';
import { fmtInt } from '../../render';
import { validateRequest } from '../../request-validation';
import { defineCommand } from '../command';
import { EXIT } from '../errors';
import { readDataFile } from '../input';
import { lazy, print, printJson, say } from '../io';

export const validate = defineCommand({
  name: 'validate',
  args: ['file'],
  summary: 'check a request (or with --config a worker config) without starting anything',
  description: `Checks a cleanup request (or, with --config, a worker config file) without contacting Temporal.
Exit 0 when valid; 2 when invalid, with each problem on its own line naming the field
(e.g. "items[3].id: must not be empty"). For a config, credential references that cannot be
resolved on this machine (unset environment variables, missing files) are reported as warnings.`,
  options: {
    config: { type: 'boolean', help: 'the file is a worker config, not a request' },
    json: { type: 'boolean', help: 'the result as JSON on stdout' },
  },
  run({ args: { file }, values }) {
    const raw = readDataFile(file, values.config ? 'config file' : 'request file');
    return values.config
      ? validateConfigFile(file, raw, Boolean(values.json))
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

function validateConfigFile(file: string, raw: unknown, json: boolean): number {
  const configModule = lazy<typeof import('../../../worker/config')>('worker/config');
  const { describeZodIssues } = lazy<typeof import('../../../workflows/validation')>('workflows/validation');
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
  const { config } = configModule.parseWorkerConfig(raw, file, baseDir);
  const warnings = unresolvedReferences(config, baseDir);
  for (const w of warnings) say(`warning: ${w}`);
  const accounts = Object.entries(config.accounts).map(([name, a]) => ({
    name,
    provider: a.provider,
    endpoint: a.endpoint,
    maxConcurrent: a.limits.maxConcurrent,
  }));
  if (json) printJson({ valid: true, kind: 'config', taskQueue: config.taskQueue, accounts, warnings });
  else {
    print(`${file}: valid worker config: task queue "${config.taskQueue}", ${accounts.length} account(s)`);
    for (const a of accounts)
      print(`  ${a.name}: ${a.provider} at ${a.endpoint}, max ${a.maxConcurrent} concurrent`);
  }
  return EXIT.OK;
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
  return warnings;
}

/**
 * Input files (requests, worker configs) and the one rule for what a request file may delete: only
 * `--execute` decides, never the file's own `dryRun`.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML from 'yaml';
import { UsageError } from './errors';
import { say } from './io';

/** Reads a JSON or YAML file ("-" = stdin). Unreadable or unparsable input is a usage error (exit 2). */
export function readDataFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  const ext = extname(path).toLowerCase();
  if (ext !== '.yaml' && ext !== '.yml') {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      if (ext === '.json') throw new UsageError(`${path}: not valid JSON: ${(err as Error).message}`);
    }
  }
  try {
    return YAML.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${path}: not valid YAML or JSON: ${(err as Error).message}`);
  }
}

/** The request from a file with dryRun decided by --execute alone. */
export function requestWithMode(file: string, execute: boolean): { raw: unknown; fileDryRun: unknown } {
  const raw = readDataFile(file, 'request file');
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { raw, fileDryRun: undefined }; // validation names the problem
  return { raw: { ...raw, dryRun: !execute }, fileDryRun: (raw as Record<string, unknown>).dryRun };
}

/** Tells the user whether anything will be deleted (after validation, before Temporal is contacted). */
export function announceMode(
  execute: boolean,
  fileDryRun: unknown,
  executing = '--execute: backups will be DELETED',
): void {
  if (execute) say(executing);
  else {
    say(
      `dry run: nothing will be deleted (add --execute to delete)` +
        (fileDryRun === false ? '; the file\'s "dryRun": false is ignored without --execute' : ''),
    );
  }
}

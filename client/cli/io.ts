/**
 * Output conventions of every command: data on stdout (workflow IDs, tables, JSON, reports);
 * messages, progress and errors on stderr, so `--json` output pipes straight into `jq`.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

/** A message for the person at the terminal (stderr). */
export const say = (line = '') => process.stderr.write(`${line}\n`);
/** Data (stdout). */
export const print = (line = '') => process.stdout.write(`${line}\n`);
export const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

const ROOT = resolve(__dirname, '..', '..');
const rootRequire = createRequire(resolve(ROOT, 'package.json'));

/**
 * Loads a module of this package by its path from the package root (e.g. "worker/main"), when a
 * command needs it: heavy modules (worker, simulator, demo) load only for the commands that use them.
 * A plain require, so it works under tsx's CommonJS hook alone (bin/retention-cleanup.cjs).
 */
export function lazy<T>(pathFromRoot: string): T {
  return rootRequire(resolve(ROOT, pathFromRoot)) as T;
}

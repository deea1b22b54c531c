/**
 * The secrets file (`secretsFile` in the worker config): YAML or JSON `key: secret` pairs for
 * {"secret": "key"} references.
 *
 * Rotation: the file is read again when it changed (another inode, size, mtime or ctime) and at least
 * every READ_AGAIN_MS (file systems with coarse timestamps), so a rotated secret is used from the next
 * login on, without restarting the worker. A new version that cannot be read or parsed does not replace
 * the last good one: the worker keeps using that and logs a warning.
 *
 * Nothing here ever quotes the file: the YAML parser's own messages (and the process warnings that
 * `YAML.parse` emits) include the offending line, which may hold a secret. Errors and warnings name
 * the file, the line and column, and the kind of problem in general terms.
 */
import { readFileSync, statSync } from 'node:fs';
import { asyncLocalStorage } from '@temporalio/activity';
import { LineCounter, parseDocument, type ErrorCode } from 'yaml';

/** Thrown for a secrets file (or value) the worker cannot use. Never carries the file's content. */
export class SecretsFileError extends Error {
  override readonly name = 'SecretsFileError';
}

/** Reads the file again after this long even when its size and timestamps look unchanged. */
export const READ_AGAIN_MS = 30_000;

/** General words for the parser's error codes: the parser's own messages may quote the secret. */
const YAML_PROBLEMS: Partial<Record<ErrorCode, string>> = {
  BAD_INDENT: 'wrong indentation',
  TAB_AS_INDENT: 'a tab used for indentation (use spaces)',
  MISSING_CHAR: 'a closing quote or bracket is missing',
  BAD_DQ_ESCAPE: 'an invalid backslash escape in a double-quoted value (use single quotes)',
  BAD_SCALAR_START: 'a value starts with a reserved character such as @ or ` (quote the value)',
  BLOCK_AS_IMPLICIT_KEY: 'a value holds ": " (quote the value)',
  MULTILINE_IMPLICIT_KEY: 'a key runs over several lines',
  DUPLICATE_KEY: 'a key appears twice',
  UNEXPECTED_TOKEN: 'an unexpected character (quote the value)',
  MULTIPLE_DOCS: 'more than one YAML document (remove "---")',
  BAD_ALIAS: 'an alias (*name) that names no anchor (quote a value that starts with *)',
};

type Parsed = { ok: true; secrets: Map<string, unknown> } | { ok: false; problem: string };

/** Parses the file's text into key → value, or a problem description that never quotes the text. */
export function parseSecretsText(text: string, path: string): Parsed {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const [err] = doc.errors;
  if (err) {
    const { line, col } = lines.linePos(err.pos[0]);
    const what = YAML_PROBLEMS[err.code] ?? `a YAML syntax error (${err.code})`;
    return {
      ok: false,
      problem: `secrets file ${path}: not valid YAML at line ${line}, column ${col}: ${what}; the content is not shown because it holds secrets`,
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // toJS errors name aliases and counts, but do not rely on it: no message of theirs is shown.
    return {
      ok: false,
      problem: `secrets file ${path}: cannot be read as key: secret pairs (${(e as Error).name})`,
    };
  }
  if (value === null || value === undefined) return { ok: true, secrets: new Map() };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      problem: `secrets file ${path}: expected "key: secret" lines (a mapping), found ${kindOf(value)}`,
    };
  }
  return { ok: true, secrets: new Map(Object.entries(value as Record<string, unknown>)) };
}

/** What a YAML value is, in words, without the value. */
function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'no value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return 'a single text value';
  return `a ${typeof v}`;
}

/** Sends a warning to the activity's logger when called from an activity, else to process warnings. */
export function warnSecretsFile(message: string): void {
  const activity = asyncLocalStorage.getStore();
  if (activity) activity.log.warn(message);
  else process.emitWarning(message, { code: 'RETENTION_SECRETS_FILE' });
}

export class SecretsFile {
  private good?: { secrets: Map<string, unknown>; stamp: string; readAt: number };
  private checked?: { stamp: string; at: number };
  /** The problem of the current version when it is unusable (the last good one is in use). */
  private problem?: string;

  constructor(
    readonly path: string,
    private readonly warn: (message: string) => void = warnSecretsFile,
    private readonly now: () => number = Date.now,
  ) {}

  /** The secret under `key`, from the newest readable version of the file. */
  get(key: string): string {
    this.refresh();
    const v = this.good!.secrets.get(key);
    const stale = this.problem
      ? ` (in the last good version; the current one is unusable: ${this.problem})`
      : '';
    if (v === undefined) throw new SecretsFileError(`secrets file ${this.path} has no key "${key}"${stale}`);
    if (typeof v !== 'string') {
      throw new SecretsFileError(
        `secrets file ${this.path}: the value of key "${key}" is ${kindOf(v)}, not text; quote it (${key}: "...") so it is read exactly${stale}`,
      );
    }
    if (!v)
      throw new SecretsFileError(`secrets file ${this.path}: the value of key "${key}" is empty${stale}`);
    return v;
  }

  private refresh(): void {
    const now = this.now();
    let stamp: string;
    try {
      const s = statSync(this.path, { bigint: true });
      stamp = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } catch (err) {
      return this.unusable(`secrets file ${this.path}: cannot read it (${errCode(err)})`);
    }
    const c = this.checked;
    if (this.good && c && c.stamp === stamp && now - c.at < READ_AGAIN_MS) return;
    this.checked = { stamp, at: now };
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      return this.unusable(`secrets file ${this.path}: cannot read it (${errCode(err)})`);
    }
    const parsed = parseSecretsText(text, this.path);
    if (!parsed.ok) return this.unusable(parsed.problem);
    this.good = { secrets: parsed.secrets, stamp, readAt: now };
    this.problem = undefined;
  }

  /** No usable version yet: an error. Else keep the last good one, and warn once per new problem. */
  private unusable(problem: string): void {
    if (!this.good) throw new SecretsFileError(problem);
    if (problem === this.problem) return;
    this.problem = problem;
    this.warn(
      `${problem}; still using the version read at ${new Date(this.good.readAt).toISOString()} until the file is fixed`,
    );
  }
}

function errCode(err: unknown): string {
  return (err as { code?: string }).code ?? 'unreadable';
}

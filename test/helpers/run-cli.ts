/**
 * Runs the CLI as a child process (`node --import tsx client/cli.ts ...`), the way a user would,
 * against the suite's Temporal dev server. Asynchronous on purpose: the test's in-process worker
 * must keep running while the CLI waits for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const CLI = resolve(ROOT, 'client', 'cli.ts');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

export function spawnCli(args: string[], opts: CliOptions = {}): ChildProcess {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  delete env.NODE_TEST_CONTEXT; // the child is a program, not a test file
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(opts.input ?? '');
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const [code, signal] = (await new Promise((done, fail) => {
      child.once('error', fail);
      child.once('close', (c: number | null, s: NodeJS.Signals | null) => done([c, s]));
    })) as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** A compact description of a CLI result for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

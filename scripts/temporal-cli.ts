/**
 * Finds the Temporal CLI, installing it when needed: TEMPORAL_CLI_PATH, else `temporal` on PATH, else
 * `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into .tools/bin (git-ignored).
 * v1.5.1 because later CLI versions carry a `replace` directive that `go install pkg@version` refuses.
 * Idempotent: a second call returns at once.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const ROOT = resolve(__dirname, '..');
const TOOLS_BIN = join(ROOT, '.tools', 'bin');

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function ensureTemporalCli(log: (msg: string) => void = (m) => console.error(m)): string {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv))
      throw new Error(
        `TEMPORAL_CLI_PATH=${fromEnv} does not exist; unset it or point it at a temporal binary`,
      );
    return fromEnv;
  }
  const local = join(TOOLS_BIN, 'temporal');
  if (existsSync(local)) return local;
  const found = onPath('temporal');
  if (found) return found;

  const go = onPath('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new Error(
      'The Temporal CLI is needed and was not found. Install Go (https://go.dev/dl, 1.23 or later) so it can be built, ' +
        'or put `temporal` on PATH, or set TEMPORAL_CLI_PATH to a temporal binary.',
    );
  }
  mkdirSync(TOOLS_BIN, { recursive: true });
  log(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (first time only, a few minutes)...`,
  );
  const started = Date.now();
  const r = spawnSync(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: TOOLS_BIN },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0)
    throw new Error(`go install of the Temporal CLI failed (exit ${r.status}); see the output above`);
  log(`Temporal CLI ready in ${Math.round((Date.now() - started) / 1000)} s: ${local}`);
  return local;
}

export function temporalCliVersion(cli: string): string {
  return execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
}

if (require.main === module) {
  const cli = ensureTemporalCli();
  console.log(`${cli} (${temporalCliVersion(cli)})`);
}

/**
 * `npm test`: the Temporal CLI bootstrap, typecheck, lint, then the whole suite with node's test
 * runner against ONE real Temporal dev server started here (in-memory, headless). The workflow bundle
 * is built once and shared by every test's worker.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DevServer, freePort } from './dev-server';
import { ensureTemporalCli } from './temporal-cli';
import { quietLogger } from './quiet-logger';

const ROOT = resolve(__dirname, '..');

function step(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  console.log(`\n== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`\n${name} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  ensureTemporalCli();
  if (!only.length) {
    step('typecheck', 'npx', ['tsc', '--noEmit']);
    step('lint', 'npx', ['eslint', '.', '--max-warnings', '0']);
    step('format', 'npx', ['prettier', '--check', '.']);
  }

  const outDir = join(ROOT, '.data', 'test');
  mkdirSync(outDir, { recursive: true });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: quietLogger,
  });
  const bundlePath = join(outDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);

  // With its Web UI, for the browser test of the Start Workflow form.
  const server = new DevServer({ uiPort: await freePort() });
  await server.start();
  console.log(`\n== Temporal dev server at ${server.address}, Web UI ${server.uiUrl}`);
  const files = only.length
    ? only
    : readdirSync(join(ROOT, 'test'))
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => join('test', f));
  let status = 1;
  try {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-concurrency=2',
        '--test-timeout=600000',
        // Each file's process exits when its tests are done, even if a native handle (the Temporal
        // runtime's log forwarding) would keep the event loop alive.
        '--test-force-exit',
        ...files,
      ],
      {
        cwd: ROOT,
        stdio: 'inherit',
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: server.address,
          TEMPORAL_UI_URL: server.uiUrl,
          RETENTION_WORKFLOW_BUNDLE: bundlePath,
        },
      },
    );
    status = r.status ?? 1;
  } finally {
    await server.stop();
  }
  process.exit(status);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

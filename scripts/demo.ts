/**
 * `npm run demo`: the embedded default stack on this machine. Starts the real Temporal dev server
 * (SQLite in .data/dev so runs survive a restart; Web UI on 8233; search attributes registered), the
 * provider simulator on 7780, and a worker; starts a sample cleanup run with dryRun: false; shows
 * live progress; prints the summary and the Web UI link; starts a second run that awaits approval
 * (scripts/demo-approval.ts) and prints its plan; then keeps the stack up until Ctrl-C
 * (`--exit` to stop right away). Every process is shut down cleanly either way.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { progressLine, renderSummary, webUiRunUrl } from '../client/render';
import { RetentionClient } from '../client/retention-client';
import { seedDemo } from '../simulator/demo-data';
import { Simulator } from '../simulator/server';
import { loadWorkerConfig } from '../worker/config';
import { startWorker, type StartedWorker } from '../worker/worker';
import { assertPortFree, DevServer } from './dev-server';
import { startApprovalDemo } from './demo-approval';

const ROOT = resolve(__dirname, '..');
export const DEMO_PORTS = { temporal: 7233, ui: 8233, simulator: 7780 };
/** Simulator-only values for the demo config's credential references. */
const DEMO_ENV = {
  DEMO_HUAWEI_USER: 'demo-user',
  DEMO_HUAWEI_PASSWORD: 'demo-password-simulator-only',
  DEMO_JSA_TOKEN: 'demo-sec-token-simulator-only',
  DEMO_VEEAM_USER: 'demo-user',
  DEMO_VEEAM_PASSWORD: 'demo-password-simulator-only',
};

export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { exit: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(
      'usage: npm run demo [-- --exit]\n\nStarts the dev Temporal server, the provider simulator and a worker, runs a sample cleanup, prints the summary.\n--exit  stop everything after the summary instead of waiting for Ctrl-C',
    );
    return 0;
  }
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const say = (m: string) => console.log(m);
  const cleanups: Array<() => Promise<void>> = [];
  const shutdown = async () => {
    for (const c of cleanups.reverse())
      await c().catch((err: unknown) => console.error(`shutdown: ${String(err)}`));
  };

  try {
    await assertPortFree(DEMO_PORTS.simulator, 'provider simulator');
    const server = new DevServer({
      port: DEMO_PORTS.temporal,
      uiPort: DEMO_PORTS.ui,
      dbFile: join(ROOT, '.data', 'dev', 'temporal.db'),
      log: say,
    });
    say('Starting the Temporal dev server...');
    await server.start();
    cleanups.push(() => server.stop());
    say(`  Temporal ${server.address}, Web UI ${server.uiUrl}`);

    const sim = new Simulator({
      port: DEMO_PORTS.simulator,
      timings: { deleteMs: { vbs: 1500, csbs: 2500, taurusdb: 1500, jsa: 1500, veeam: 3000 } },
    });
    await sim.start();
    cleanups.push(() => sim.stop());
    const items = seedDemo(sim);
    // A little weather: 10% of delete calls answer 503, so retries show in the Web UI.
    sim.setFaults([{ method: 'DELETE', rate: 0.1, fault: { kind: 'status', status: 503 } }]);
    say(`  provider simulator ${sim.url} (admin: ${sim.url}/_admin/counters)`);

    Object.assign(process.env, DEMO_ENV);
    const loaded = loadWorkerConfig(join(ROOT, 'config', 'demo.yaml'));
    const worker: StartedWorker = await startWorker({ loaded, address: server.address });
    cleanups.push(() => worker.shutdown());
    say(
      `  worker on task queue "${loaded.config.taskQueue}" with accounts ${Object.keys(loaded.config.accounts).join(', ')}`,
    );

    const rc = await RetentionClient.connect({ address: server.address });
    cleanups.push(() => rc.close());
    const workflowId = await rc.start({ items, dryRun: false, label: 'demo' });
    const link = webUiRunUrl(server.uiUrl!, 'default', workflowId);
    say(`\nSample run started: ${workflowId}\n  ${link}\n`);

    const tty = process.stdout.isTTY;
    const done = rc.result(workflowId);
    let finished = false;
    let last = '';
    void done.finally(() => (finished = true)).catch(() => undefined);
    while (!finished) {
      await new Promise((r) => setTimeout(r, 1000));
      if (finished) break;
      const p = await rc.getProgress(workflowId).catch(() => undefined);
      const line = p ? progressLine(p) : last;
      if (line !== last) process.stdout.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      last = line;
    }
    const summary = await done;
    say(`${tty ? '\n' : ''}\n${renderSummary(summary)}\n\nWeb UI: ${link}`);
    say(`Report: npm run cli -- report ${workflowId} --format csv`);
    await startApprovalDemo(sim, rc, say);

    if (!values.exit) {
      say('\nThe stack stays up (Temporal, simulator, worker). Press Ctrl-C to stop.');
      await new Promise<void>((r) => {
        process.once('SIGINT', () => r());
        process.once('SIGTERM', () => r());
      });
      say('\nStopping...');
    }
    await shutdown();
    return 0;
  } catch (err) {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown();
    return 1;
  }
}

if (require.main === module) {
  runDemo(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

import { writeFileSync } from 'node:fs';
import { fmtInt } from '../../render';
import { defineCommand } from '../command';
import { EXIT, UsageError } from '../errors';
import { lazy, print, say } from '../io';

/** The simulator's admin API, as the banner lists it. */
const ADMIN_ROUTES = [
  [
    'GET',
    '/_admin/counters',
    'delete calls per backup, max concurrent deletions per account, tokens, requests',
  ],
  ['POST', '/_admin/seed', '{"provider": "vbs", "scope": "<project>", "backups": [...]}'],
  ['GET', '/_admin/backups?provider=P&scope=S', 'what a provider holds'],
  [
    'PUT',
    '/_admin/faults',
    '{"rules": [{"provider": "vbs", "method": "DELETE", "rate": 0.3, "fault": {"kind": "status", "status": 503}}]}',
  ],
  ['PUT', '/_admin/timings', '{"deleteMs": {"vbs": 1500}}'],
  ['POST', '/_admin/revoke-tokens', 'expire every Huawei token'],
  ['POST', '/_admin/reset', 'forget backups, faults and counters'],
] as const;

export const simulate = defineCommand({
  name: 'simulate',
  summary: 'run the provider simulator on loopback until Ctrl-C',
  description: `Starts the provider simulator (all providers, Huawei IAM, admin API) on 127.0.0.1 and runs it until
Ctrl-C. Prints its URL (first line of stdout) and the admin endpoints.`,
  options: {
    port: {
      type: 'string',
      value: 'N',
      help: 'port to listen on (default 0: a free port; config/demo.yaml expects 7780)',
    },
    seed: { type: 'string', value: 'N', help: 'seed of the fault-injection random generator' },
    'seed-demo': { type: 'boolean', help: "load the demo backups of config/demo.yaml's accounts" },
    'write-request': {
      type: 'string',
      value: 'FILE',
      help: "with --seed-demo: write the demo's sample request to FILE",
    },
  },
  async run({ values, help }) {
    const port = Number(values.port ?? '0');
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port: expected 0-65535, got "${values.port}"`);
    const seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !Number.isInteger(seed))
      throw new UsageError(`--seed: expected an integer, got "${values.seed}"`);
    if (values['write-request'] && !values['seed-demo'])
      throw new UsageError('--write-request needs --seed-demo', help());
    const { Simulator, PROVIDER_SIMS } = lazy<typeof import('../../../simulator/server')>('simulator/server');
    const sim = new Simulator({ port, host: '127.0.0.1', ...(seed !== undefined ? { seed } : {}) });
    const url = await sim.start();
    print(url);
    if (values['seed-demo']) {
      const { seedDemo } = lazy<typeof import('../../../simulator/demo-data')>('simulator/demo-data');
      const items = seedDemo(sim);
      say(
        `seeded the demo backups (config/demo.yaml accounts): ${fmtInt(items.length)} items in the sample request`,
      );
      if (port !== 7780) say('note: config/demo.yaml expects the simulator on port 7780 (--port 7780)');
      const requestFile = values['write-request'];
      if (requestFile) {
        writeFileSync(requestFile, `${JSON.stringify({ label: 'demo', items }, null, 2)}\n`);
        say(`sample request written to ${requestFile}: retention-cleanup start ${requestFile} --follow`);
      }
    }
    print(
      `providers: ${Object.keys(PROVIDER_SIMS)
        .map((p) => `${url}/${p}`)
        .join('  ')}`,
    );
    print(`huawei IAM: ${url}/iam`);
    print('admin API:');
    for (const [method, path, what] of ADMIN_ROUTES) print(`  ${method.padEnd(4)} ${url}${path}   ${what}`);
    say('simulator running; Ctrl-C to stop');
    await new Promise<void>((done) => {
      process.once('SIGINT', () => done());
      process.once('SIGTERM', () => done());
    });
    await sim.stop();
    say('simulator stopped');
    return EXIT.OK;
  },
});

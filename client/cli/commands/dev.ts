import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineCommand } from '../command';
import { EXIT } from '../errors';
import { lazy, say } from '../io';

export const dev = defineCommand({
  name: 'dev',
  summary: 'the local demo stack (Temporal dev server, simulator, worker, sample run)',
  description: `The local demo stack: Temporal dev server (Web UI on :8233), provider simulator, worker, and a
sample cleanup run with live progress (see scripts/demo.ts).`,
  options: {
    exit: { type: 'boolean', help: 'stop everything after the summary instead of waiting for Ctrl-C' },
  },
  async run({ values }) {
    // scripts/ is part of a checkout, not necessarily of an installed package.
    if (!existsSync(resolve(__dirname, '..', '..', '..', 'scripts', 'demo.ts'))) {
      say('the demo stack is not available here (scripts/demo.ts is missing).');
      say(
        'Instead: "retention-cleanup simulate", a Temporal dev server, and "retention-cleanup worker --config FILE".',
      );
      return EXIT.ERROR;
    }
    const { runDemo } = lazy<typeof import('../../../scripts/demo')>('scripts/demo');
    return runDemo(values.exit ? ['--exit'] : []);
  },
});

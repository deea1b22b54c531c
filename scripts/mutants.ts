/**
 * `npm run mutants`: plants each bug of test/mutants/list.ts in a scratch copy of the repository, one
 * at a time, runs the test files that must catch it, and prints which were killed and which survived.
 * Exit 1 if a bug survived or an entry's `find` text no longer occurs exactly once.
 *
 *   npm run mutants                     every planted bug
 *   npm run mutants -- --only ID[,ID]   some (repeatable)
 *   npm run mutants -- --check          only check that every `find` occurs once (no tests run)
 *   npm run mutants -- --keep           keep the scratch copy (its path is printed)
 *
 * The tests run as `npm test` runs them (node's test runner through tsx against one real Temporal dev
 * server and the workflow bundle built from the scratch copy), one bug after the other and one test
 * file at a time: the machine is shared. Logs: reports/mutants/<id>.log, results: reports/mutants.json.
 * The repository itself is never modified.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PLANTED_BUGS, type PlantedBug } from '../test/mutants/list';
import { DevServer } from './dev-server';
import { quietLogger } from './quiet-logger';
import { ensureTemporalCli } from './temporal-cli';

const ROOT = resolve(__dirname, '..');
const REPORTS = join(ROOT, 'reports', 'mutants');
/** A test that hangs under a planted bug fails by this timeout (and names itself) rather than never. */
const TEST_TIMEOUT_MS = 240_000;

interface Options {
  check: boolean;
  keep: boolean;
  only: string[];
}

interface Result {
  id: string;
  status: 'killed' | 'survived' | 'stale';
  /** The tests that failed with the bug planted (what killed it). */
  killedBy: string[];
  seconds: number;
  log?: string;
  note?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { check: false, keep: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--check') o.check = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) usage('--only needs an id, e.g. --only lane-concurrency-off-by-one');
      o.only.push(...v.split(',').filter(Boolean));
    } else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  const ids = new Set(PLANTED_BUGS.map((b) => b.id));
  const unknown = o.only.filter((id) => !ids.has(id));
  if (unknown.length)
    usage(`--only: no planted bug ${unknown.join(', ')}; known ids:\n  ${[...ids].join('\n  ')}`);
  return o;
}

function usage(problem: string): never {
  console.error(`mutants: ${problem}\nusage: npm run mutants -- [--check] [--keep] [--only ID[,ID]]`);
  process.exit(2);
}

/** Why an entry cannot be planted in `root` (undefined when it can). */
function staleness(root: string, bug: PlantedBug): string | undefined {
  const path = join(root, bug.file);
  if (!existsSync(path)) return `${bug.file} does not exist`;
  const text = readFileSync(path, 'utf8');
  const n = text.split(bug.find).length - 1;
  if (n !== 1) return `find text occurs ${n} times in ${bug.file} (must be exactly once)`;
  if (bug.find === bug.replace) return 'replace is the same as find';
  const missing = bug.tests.filter((t) => !existsSync(join(root, t)));
  if (missing.length) return `test file(s) missing: ${missing.join(', ')}`;
  return undefined;
}

/** A copy of the working tree (tracked and untracked, not ignored files) with node_modules linked. */
function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'retention-mutants-'));
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  for (const f of new Set(r.stdout.split('\0').filter(Boolean))) {
    const from = join(ROOT, f);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(from, join(dir, f), { preserveTimestamps: true, verbatimSymlinks: true });
  }
  rmSync(join(dir, 'node_modules'), { force: true, recursive: true });
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'));
  return dir;
}

async function bundle(root: string): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(root, 'workflows', 'index.ts'),
    logger: quietLogger,
  });
  return code;
}

/** Names of the failed tests in node's TAP output ("not ok N - name", nested by indentation). */
function failedTests(tap: string): string[] {
  const out: string[] = [];
  for (const m of tap.matchAll(/^(\s*)not ok \d+ - (.*)$/gm)) {
    const name = m[2]!.replace(/\s+#.*$/, '').trim();
    // A file's own line (its path) and describe lines repeat what their tests say.
    if (!/\.test\.ts$/.test(name)) out.push(name);
  }
  return [...new Set(out)];
}

/** Runs the bug's test files in `root` against a fresh dev server; resolves with exit status and output. */
async function runTests(
  root: string,
  bug: PlantedBug,
  bundlePath: string,
): Promise<{ status: number; output: string }> {
  const server = new DevServer();
  await server.start();
  try {
    const args = [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      `--test-timeout=${TEST_TIMEOUT_MS}`,
      '--test-force-exit',
      '--test-reporter=tap',
      ...(bug.names ? [`--test-name-pattern=${bug.names}`] : []),
      ...bug.tests,
    ];
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: server.address,
        RETENTION_WORKFLOW_BUNDLE: bundlePath,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const status = await new Promise<number>((res) =>
      child.on('close', (code, signal) => res(code ?? (signal ? 1 : 0))),
    );
    return { status, output };
  } finally {
    await server.stop();
  }
}

/** The first failed test (the most specific), shortened, and how many more failed. */
function firstOf(names: string[]): string {
  if (!names.length) return '(exit status only: see the log)';
  const first = names[0]!.length > 90 ? `${names[0]!.slice(0, 89)}…` : names[0]!;
  return names.length > 1 ? `${first} (+${names.length - 1})` : first;
}

function table(results: Result[]): string {
  const rows = results.map((r) => [
    r.id,
    r.status,
    r.status === 'killed' ? firstOf(r.killedBy) : (r.note ?? ''),
    `${Math.round(r.seconds)}s`,
  ]);
  const head = ['planted bug', 'result', 'killed by (failed tests) / why', 'time'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ');
  return [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const bugs = opts.only.length ? PLANTED_BUGS.filter((b) => opts.only.includes(b.id)) : PLANTED_BUGS;
  const ids = PLANTED_BUGS.map((b) => b.id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (dupes.length) usage(`duplicate ids in test/mutants/list.ts: ${dupes.join(', ')}`);

  const stale = bugs.flatMap((b) => {
    const why = staleness(ROOT, b);
    return why ? [{ id: b.id, why }] : [];
  });
  for (const s of stale) console.error(`STALE ${s.id}: ${s.why}`);
  if (opts.check) {
    console.log(`${bugs.length - stale.length} of ${bugs.length} planted bugs apply cleanly`);
    process.exit(stale.length ? 1 : 0);
  }

  if (!process.env.TEMPORAL_CLI_PATH) process.env.TEMPORAL_CLI_PATH = ensureTemporalCli();
  mkdirSync(REPORTS, { recursive: true });
  const scratch = scratchCopy();
  console.log(`scratch copy: ${scratch}`);
  const results: Result[] = stale.map((s) => ({
    id: s.id,
    status: 'stale',
    killedBy: [],
    seconds: 0,
    note: s.why,
  }));
  try {
    console.log('building the unmodified workflow bundle...');
    const clean = await bundle(scratch);
    const cleanPath = join(scratch, '.data', 'mutants', 'clean-bundle.js');
    mkdirSync(dirname(cleanPath), { recursive: true });
    writeFileSync(cleanPath, clean);
    for (const bug of bugs) {
      if (stale.some((s) => s.id === bug.id)) continue;
      const started = Date.now();
      const path = join(scratch, bug.file);
      const original = readFileSync(path, 'utf8');
      writeFileSync(
        path,
        original.replace(bug.find, () => bug.replace),
      );
      try {
        // Workflow code (and what it imports) is in the bundle: rebuild it with the bug in it.
        let bundlePath = cleanPath;
        if (clean.includes(bug.file)) {
          bundlePath = join(scratch, '.data', 'mutants', `${bug.id}-bundle.js`);
          writeFileSync(bundlePath, await bundle(scratch));
        }
        console.log(
          `\n== ${bug.id}: ${bug.file} → ${bug.tests.join(' ')}${bug.names ? ` (tests matching /${bug.names}/)` : ''}`,
        );
        const { status, output } = await runTests(scratch, bug, bundlePath);
        const log = join(REPORTS, `${bug.id}.log`);
        writeFileSync(log, output);
        const failed = failedTests(output);
        const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)`, 'm').exec(output)?.[1] ?? 0);
        const ran = count('pass') + count('fail');
        const result: Result = {
          id: bug.id,
          status: status === 0 ? 'survived' : 'killed',
          killedBy: status === 0 ? [] : failed,
          seconds: (Date.now() - started) / 1000,
          log,
          ...(ran === 0 ? { note: 'no test ran (check tests and names)' } : {}),
        };
        if (status === 0 && ran === 0) result.status = 'stale';
        results.push(result);
        console.log(
          `   ${result.status.toUpperCase()} in ${Math.round(result.seconds)}s${failed.length ? `: ${failed.join(' | ')}` : ''}`,
        );
      } finally {
        writeFileSync(path, original);
      }
    }
  } finally {
    if (opts.keep) console.log(`kept ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }

  writeFileSync(join(ROOT, 'reports', 'mutants.json'), JSON.stringify(results, null, 2));
  console.log(`\n${table(results)}\n`);
  const bad = results.filter((r) => r.status !== 'killed');
  console.log(
    `${results.length - bad.length} of ${results.length} planted bugs killed` +
      (bad.length ? `; NOT killed: ${bad.map((r) => `${r.id} (${r.status})`).join(', ')}` : ''),
  );
  process.exit(bad.length ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

/**
 * The what-if (`plan --policy new.json [--compare current.json] --config FILE`), run as a user runs it:
 * the CLI as a child process, listing a seeded simulator over real HTTP through the worker's adapters.
 * No Temporal is involved. What an operator relies on: the difference names exactly the backups (and
 * bytes) a rule change deletes or keeps in addition, nothing is ever deleted (the simulator's record
 * of delete requests stays empty), and the command refuses to guess which accounts to list.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WhatIfResult } from '../insight/what-if';
import { Simulator } from '../simulator/server';
import { runCli, show } from './helpers/run-cli';
import { TEST_CREDENTIAL_ENV, configFor } from './helpers/stack';

const GiB = 1024 ** 3;
const HOUR = 3_600_000;

/** VBS backups of one volume, one an hour, newest last; `size` in GB as VBS lists it (null: not given). */
function volume(prefix: string, volumeId: string, sizes: Array<number | null>) {
  return sizes.map((size, i) => ({
    id: `${prefix}-${i}`,
    status: 'available',
    volume_id: volumeId,
    created_at: new Date(Date.UTC(2026, 0, 1) + i * HOUR).toISOString().replace('Z', ''),
    size,
  }));
}

describe('what-if (plan --policy)', () => {
  const sim = new Simulator();
  let dir: string;
  let configFile: string;
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(content, null, 2));
    return path;
  };
  // Volume A: 10 backups of 1..10 GB (oldest first). Volume B: 4 backups, the oldest without a size.
  const a = volume('a', 'vol-a', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const b = volume('b', 'vol-b', [null, 2, 2, 2]);
  const cli = (args: string[]) => runCli(args, { env: TEST_CREDENTIAL_ENV });
  const noDeleteRequests = (what: string) => {
    assert.deepEqual(sim.ctx.counters.deleteRequests.snapshot(), {}, `${what}: no delete request`);
    const requests = sim.ctx.counters.snapshot().requests;
    const writes = Object.keys(requests).filter((k) => !/ GET$/.test(k) && !k.startsWith('iam '));
    assert.deepEqual(
      writes,
      [],
      `${what}: only GET requests reached the providers: ${JSON.stringify(requests)}`,
    );
  };

  before(async () => {
    await sim.start();
    dir = mkdtempSync(join(tmpdir(), 'rc-what-if-'));
    const config = configFor(sim.url, { wi: { provider: 'vbs', scope: 'proj-what-if' } }, (n) => n);
    configFile = file('worker.json', config);
    sim.seed('vbs', 'proj-what-if', [...a, ...b]);
  });
  after(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const current = () => file('current.json', { rules: { keepLast: 5 }, minKeep: 1 });

  test('a rule that deletes N more: each added backup and its bytes, per group, and nothing deleted', async () => {
    // keepLast 5 → 3: volume A loses a-5 and a-6 (6+7 GB) more; volume B (4 backups) loses b-0, unsized.
    const proposed = file('fewer.json', { rules: { keepLast: 3 }, minKeep: 1 });
    const r = await cli([
      'plan',
      '--policy',
      proposed,
      '--compare',
      current(),
      '--config',
      configFile,
      '--json',
    ]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /nothing is deleted/);
    const out = JSON.parse(r.stdout) as WhatIfResult;
    assert.equal(out.compared, true);
    const acct = out.accounts.find((x) => x.account === 'wi')!;
    assert.equal(acct.provider, 'vbs');
    const [ga, gb] = acct.groups;
    assert.equal(ga!.group, 'vol-a');
    assert.deepEqual(ga!.current, { count: 5, bytes: (1 + 2 + 3 + 4 + 5) * GiB, unsized: 0 });
    assert.deepEqual(ga!.proposed, { count: 7, bytes: (1 + 2 + 3 + 4 + 5 + 6 + 7) * GiB, unsized: 0 });
    assert.deepEqual(ga!.moreDeleted, { count: 2, bytes: (6 + 7) * GiB, unsized: 0 });
    assert.deepEqual(ga!.moreKept, { count: 0, bytes: 0, unsized: 0 });
    // The oldest restore point kept moves from a-5 to a-7.
    assert.equal(ga!.oldestKept.current, '2026-01-01T05:00:00.000Z');
    assert.equal(ga!.oldestKept.proposed, '2026-01-01T07:00:00.000Z');
    // Volume B: the backup without a size is counted apart, never as 0 bytes.
    assert.equal(gb!.group, 'vol-b');
    assert.deepEqual(gb!.moreDeleted, { count: 1, bytes: 0, unsized: 1 });
    assert.deepEqual(gb!.listed, { count: 4, bytes: 6 * GiB, unsized: 1 });
    assert.deepEqual(acct.moreDeleted, { count: 3, bytes: 13 * GiB, unsized: 1 });
    assert.deepEqual(out.total.moreDeleted, acct.moreDeleted);
    noDeleteRequests('what-if --json');
  });

  test('a rule that keeps M more, in the table a person reads (human units, unsized apart)', async () => {
    // keepLast 5 → 8: volume A keeps a-2..a-4 (3+4+5 GB) in addition; volume B keeps what it kept.
    const proposed = file('more.json', { rules: { keepLast: 8 }, minKeep: 1 });
    const r = await cli(['plan', '--policy', proposed, '--compare', current(), '--config', configFile]);
    assert.equal(r.code, 0, show(r));
    const rows = r.stdout.split('\n');
    const row = (name: string) => rows.find((l) => l.trimStart().startsWith(name)) ?? '';
    // LISTED, DELETE (CURRENT), DELETE (NEW), MORE DELETED, MORE KEPT, OLDEST KEPT (CURRENT), (NEW)
    assert.match(
      row('vol-a'),
      /^\s+vol-a\s+10 \(55\.0 GiB\)\s+5 \(15\.0 GiB\)\s+2 \(3\.0 GiB\)\s+0\s+3 \(12\.0 GiB\)\s+2026-01-01 05:00\s+2026-01-01 02:00\s*$/,
      show(r),
    );
    assert.match(row('vol-b'), /^\s+vol-b\s+4 \(6\.0 GiB \+ 1 unsized\)\s+0\s+0\s+0\s+0\s/, show(r));
    assert.match(r.stdout, /would delete 0 more and keep 3 \(12\.0 GiB\) more backups/, show(r));
    assert.match(r.stdout, /Nothing was deleted/);
    noDeleteRequests('what-if table');
  });

  test('without --compare the policy is compared with deleting nothing', async () => {
    const proposed = file('alone.json', { rules: { keepLast: 8 }, minKeep: 1 });
    const r = await cli(['plan', '--policy', proposed, '--config', configFile, '--json']);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as WhatIfResult;
    assert.equal(out.compared, false);
    assert.deepEqual(out.total.moreDeleted, { count: 2, bytes: 3 * GiB, unsized: 0 });
    noDeleteRequests('what-if alone');
  });

  test('--chart draws what each policy would delete per account (PNG)', async () => {
    const proposed = file('chart.json', { rules: { keepLast: 3 }, minKeep: 1 });
    const png = join(dir, 'what-if.png');
    const r = await cli([
      'plan',
      '--policy',
      proposed,
      '--compare',
      current(),
      '--config',
      configFile,
      '--chart',
      png,
    ]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /chart written to .*what-if\.png/);
    assert.deepEqual(readFileSync(png).subarray(0, 4), Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'a PNG file');
    noDeleteRequests('what-if --chart');
  });

  test('a --chart file of another format is refused before listing anything', async () => {
    const listedBefore = sim.ctx.counters.snapshot().requests['vbs GET'] ?? 0;
    const proposed = file('chart2.json', { rules: { keepLast: 3 } });
    const r = await cli([
      'plan',
      '--policy',
      proposed,
      '--config',
      configFile,
      '--chart',
      join(dir, 'x.gif'),
    ]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--chart .*x\.gif: expected a file ending in \.png or \.svg/, show(r));
    assert.equal(sim.ctx.counters.snapshot().requests['vbs GET'] ?? 0, listedBefore, 'nothing listed');
  });

  test('refuses to run without --config, naming it, before listing anything', async () => {
    const listedBefore = sim.ctx.counters.snapshot().requests['vbs GET'] ?? 0;
    const proposed = file('p.json', { rules: { keepLast: 3 } });
    const r = await cli(['plan', '--policy', proposed]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--config FILE is required: the worker config/, show(r));
    assert.equal(sim.ctx.counters.snapshot().requests['vbs GET'] ?? 0, listedBefore, 'nothing listed');
  });

  test('a bad policy file names the file and the field', async () => {
    const bad = file('bad.json', { rules: { keepLast: 0 } });
    const r = await cli(['plan', '--policy', bad, '--config', configFile]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /bad\.json: not a valid retention policy:\s+rules\.keepLast/, show(r));
  });
});

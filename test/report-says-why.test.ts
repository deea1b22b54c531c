/**
 * Reports that stand on their own (issue 13 item 3, "Say why"), black-box: runs against the five
 * provider simulators, then `retention-cleanup report --format csv|jsonl` as a user runs it, parsed.
 *  - the report opens with the run's summary: workflow id, request hash (the one `validate --json`
 *    prints for the request file), approver field, start and end, counts per outcome;
 *  - every item line says which attempt or which workflow decided it, and when (decidedBy);
 *  - a blocked or failed item keeps the provider's own code and message, for every provider.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CSV_COLUMNS, parseCsvReport, type ReportSummary } from '../client/report';
import { RetentionClient } from '../client/retention-client';
import type { ItemOutcome } from '../contract/model';
import type { CsbsCheckpointItem } from '../simulator/csbs';
import { runCli, show } from './helpers/run-cli';
import { csbsItems, csbsRef, startStack, temporalAddress, vbsBackups, type Stack } from './helpers/stack';

const T0 = Date.UTC(2026, 0, 1);
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

describe('report: summary header, decidedBy, provider codes and messages', () => {
  let stack: Stack;
  let rc: RetentionClient;
  let dir: string;
  const cli = (args: string[]) =>
    runCli(args, { env: { TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_NAMESPACE: 'default' } });
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(content, null, 2));
    return path;
  };

  before(async () => {
    stack = await startStack(
      {
        vbs: { provider: 'vbs' },
        csbs: { provider: 'csbs' },
        jsa: { provider: 'jsa' },
        veeam: { provider: 'veeam' },
        taurus: { provider: 'taurusdb' },
      },
      { sim: { timings: { deleteMs: { vbs: 200, csbs: 200, jsa: 200, veeam: 200, taurusdb: 200 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
    dir = mkdtempSync(join(tmpdir(), 'rc-report-'));
  });
  after(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every refused or failed item carries the provider code and message, in CSV and JSON Lines', async () => {
    const vbs = stack.account('vbs');
    const [vbsOk] = vbsBackups(1, 'why-ok');
    const [vbsImage] = vbsBackups(1, 'why-image', { sim: { usedForImage: true } });
    const [vbsFail] = vbsBackups(1, 'why-fail', { sim: { failDelete: true } });
    stack.sim.seed('vbs', stack.scope('vbs'), [vbsOk, vbsImage, vbsFail]);

    const csbs = stack.account('csbs');
    const [csbsImage] = csbsItems(1, 'why-image', { sim: { registeredAsImage: true } });
    const [csbsFail] = csbsItems(1, 'why-fail', {
      sim: { failDelete: { code: 'CSBS.9999', reason: 'storage refused the delete' } },
    });
    stack.sim.seed('csbs', stack.scope('csbs'), [csbsImage, csbsFail] as CsbsCheckpointItem[]);

    const jsa = stack.account('jsa');
    stack.sim.seed('jsa', stack.scope('jsa'), [
      {
        id: 7,
        status: 'SUCCESS',
        type: 'CONFIG',
        host_id: 53,
        time_initiated: T0,
        sim: { failDelete: true },
      },
      { id: 8, status: 'SUCCESS', type: 'CONFIG', host_id: 53, time_initiated: T0 },
    ]);
    // The console refuses backup 8 in its error body's http_response (providers.md, JSA).
    stack.sim.setFaults([
      {
        provider: 'jsa',
        method: 'DELETE',
        path: '/backups/8$',
        fault: {
          kind: 'status',
          status: 400,
          body: { code: 1020, http_response: { code: 400, message: 'Backup 8 is held by a restore job' } },
        },
      },
    ]);

    const veeam = stack.account('veeam');
    stack.sim.seed('veeam', stack.scope('veeam'), [
      {
        id: 'vm-err',
        name: 'azure-vm-err',
        restorePoints: [
          { id: 'vm-err-rp-0', pointInTime: new Date(T0).toISOString(), backupDestination: 'AzureBlob' },
        ],
        sim: { outcome: 'Error', error: 'the storage account key was rotated' },
      },
    ]);

    const taurus = stack.account('taurus');
    const taurusBackup = (id: string, extra: Record<string, unknown>) => ({
      id,
      name: `manual-${id}`,
      begin_time: '2026-01-01T08:00:00+0800',
      instance_id: 'inst-0in07',
      type: 'manual',
      ...extra,
    });
    stack.sim.seed('taurusdb', stack.scope('taurus'), [
      taurusBackup('why-auto-br07', { type: 'auto' }),
      taurusBackup('why-restoring-br07', { sim: { notAllowed: true } }),
    ]);

    const request = {
      label: 'say why',
      items: [
        { account: vbs, id: vbsOk!.id },
        { account: vbs, id: vbsImage!.id },
        { account: vbs, id: vbsFail!.id },
        csbsRef(csbs, csbsImage!),
        csbsRef(csbs, csbsFail!),
        { account: jsa, id: '7' },
        { account: jsa, id: '8' },
        { account: jsa, id: 'not-a-number' },
        { account: veeam, id: 'vm-err' },
        { account: taurus, id: 'why-auto-br07' },
        { account: taurus, id: 'why-restoring-br07' },
      ],
    };
    const requestFile = file('why.json', request);
    const started = await cli(['start', requestFile, '--execute', '--task-queue', stack.taskQueue]);
    assert.equal(started.code, 0, show(started));
    const workflowId = started.stdout.trim();

    const summary = await rc.result(workflowId);
    stack.sim.setFaults([]);
    assert.deepEqual(summary.counts, { deleted: 1, absent: 0, blocked: 4, failed: 6, skipped: 0 });

    const jsonl = await cli(['report', workflowId, '--format', 'jsonl']);
    assert.equal(jsonl.code, 0, show(jsonl));
    const [head, ...lines] = jsonl.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const validated = await cli(['validate', requestFile, '--json']);
    const { requestHash } = JSON.parse(validated.stdout) as { requestHash: string };
    assert.match(requestHash, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(head, {
      type: 'summary',
      workflowId,
      label: 'say why',
      requestHash,
      approver: null,
      approvalComment: null,
      approvedAt: null,
      planHash: null,
      dryRun: false,
      cancelled: false,
      cancelReason: null,
      startedAt: summary.startedAt,
      finishedAt: summary.finishedAt,
      total: 11,
      counts: summary.counts,
    } satisfies ReportSummary);
    const items = lines as unknown as ItemOutcome[];
    assert.equal(items.length, 11);
    const byId = new Map(items.map((o) => [o.id, o]));

    // What the provider said, kept: its code in `code`, its message in the reason.
    const expected: [id: string, outcome: string, code: string | undefined, message: RegExp][] = [
      [
        vbsImage!.id,
        'blocked',
        'VolumeBackup.0113',
        /: VolumeBackup\.0113: The backup has been used to create an image/,
      ],
      [vbsFail!.id, 'failed', 'error_deleting', /Simulated backend failure while deleting/],
      [csbsImage!.id, 'blocked', 'CSBS.8007', /CSBS\.8007: The backup \S+ has been registered as an image/],
      [csbsFail!.id, 'failed', 'CSBS.9999', /storage refused the delete/],
      ['7', 'failed', 'FAILED', /the backup is FAILED again/],
      ['8', 'failed', '1020', /1020: Backup 8 is held by a restore job/],
      ['vm-err', 'failed', 'Error', /ended Error: .*the storage account key was rotated/],
      ['why-auto-br07', 'blocked', undefined, /automated backup \(type auto\)/],
      [
        'why-restoring-br07',
        'blocked',
        'DBS.201208',
        /DBS\.201208: This operation is not allowed in the current backup status/,
      ],
    ];
    for (const [id, outcome, code, message] of expected) {
      const o = byId.get(id);
      assert.ok(o, `${id} has a report line`);
      assert.equal(o.outcome, outcome, `${id}: ${o.reason}`);
      assert.equal(o.code, code, `${id}: ${o.reason}`);
      assert.match(o.reason, message, id);
      if (code) assert.doesNotMatch(o.reason, new RegExp(`${code}: ${code}`), `${id}: the code said once`);
    }
    // Every line says who decided it and when: the activity attempt, or the lane and why.
    for (const o of items)
      assert.match(
        o.decidedBy ?? '',
        new RegExp(`^(deleteBackups? attempt \\d+|lane \\([^)]+\\)), ${ISO}$`),
        o.id,
      );
    assert.match(
      byId.get('8')!.decidedBy!,
      new RegExp(`^lane \\(deleteBackup gave up: NON_RETRYABLE_FAILURE\\), ${ISO}$`),
    );

    // The same report as CSV: the summary as #name,value records, then the columns, then the same items.
    const csv = await cli(['report', workflowId, '--format', 'csv']);
    assert.equal(csv.code, 0, show(csv));
    assert.ok(csv.stdout.startsWith('#retention-cleanup report,summary\n'), csv.stdout.slice(0, 200));
    const parsed = parseCsvReport(csv.stdout);
    assert.deepEqual(parsed.summary, {
      'retention-cleanup report': 'summary',
      workflowId,
      label: 'say why',
      requestHash,
      approver: '',
      approvalComment: '',
      approvedAt: '',
      planHash: '',
      dryRun: 'false',
      cancelled: 'false',
      cancelReason: '',
      startedAt: summary.startedAt,
      finishedAt: summary.finishedAt,
      total: '11',
      deleted: '1',
      absent: '0',
      blocked: '4',
      failed: '6',
      skipped: '0',
    });
    assert.deepEqual(parsed.header, [...CSV_COLUMNS]);
    assert.deepEqual(
      parsed.rows,
      items.map((o) =>
        CSV_COLUMNS.map((c) => (c === 'sizeBytes' ? (o.sizeBytes?.toString() ?? '') : (o[c] ?? ''))),
      ),
    );

    // --items-only: the item records alone, as reports were before the summary.
    const bare = await cli(['report', workflowId, '--format', 'csv', '--items-only']);
    assert.equal(bare.code, 0, show(bare));
    assert.equal(bare.stdout, csv.stdout.slice(csv.stdout.indexOf('account,id,')));
  });

  test('outcomes the workflows decide name the workflow and why: dry run, ledger, cancelled run', async () => {
    const vbs = stack.account('vbs');
    const backups = vbsBackups(3, 'decided');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const items = backups.map((b) => ({ account: vbs, id: b.id }));
    const jsonlOf = async (id: string) => {
      const r = await cli(['report', id]);
      assert.equal(r.code, 0, show(r));
      const [head, ...lines] = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ItemOutcome & { type?: string });
      assert.equal(head!.type, 'summary');
      return lines;
    };

    const dry = await rc.start({ items, label: 'decided dry' });
    for (const o of await jsonlOf(dry)) {
      assert.equal(o.outcome, 'skipped');
      assert.match(o.decidedBy ?? '', new RegExp(`^batch \\(dry run\\), ${ISO}$`));
    }

    // Deleted by one run; the next run's request for the same backups is answered by the lane's ledger.
    const first = await rc.start({ items, dryRun: false, label: 'decided first' });
    assert.equal((await rc.result(first)).counts.deleted, 3);
    const again = await rc.start({ items, dryRun: false, label: 'decided again' });
    for (const o of await jsonlOf(again)) {
      assert.equal(o.outcome, 'absent', o.reason);
      assert.match(o.decidedBy ?? '', new RegExp(`^lane \\(ledger: gone before this run asked\\), ${ISO}$`));
    }

    // Cancelled while its batches wait for the last page (a count guard is judged on the sealed run).
    const cancelled = await rc.start({
      items,
      dryRun: false,
      itemsToFollow: true,
      guards: { maxDeletions: 10 },
      label: 'decided cancelled',
    });
    await rc.cancel(cancelled, 'changed my mind');
    for (const o of await jsonlOf(cancelled)) {
      assert.equal(o.outcome, 'skipped', o.reason);
      assert.match(o.decidedBy ?? '', new RegExp(`^run \\(cancelled\\), ${ISO}$`));
    }
  });
});

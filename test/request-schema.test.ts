import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { requestJsonSchema, SCHEMA_PATH } from '../scripts/gen-request-schema';

test('docs/request.schema.json is generated from the current zod schema', () => {
  assert.equal(
    readFileSync(SCHEMA_PATH, 'utf8'),
    requestJsonSchema(),
    'docs/request.schema.json is stale: run `npx tsx scripts/gen-request-schema.ts` and commit it',
  );
});

/**
 * Writes docs/request.schema.json from the zod request schema, so the Web UI form, editors and other
 * services see exactly what the workflow validates. `npm test` fails when the file is stale
 * (test/request-schema.test.ts); regenerate with `npx tsx scripts/gen-request-schema.ts`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { cleanupRequestSchema } from '../contract/request';

export const SCHEMA_PATH = join(__dirname, '..', 'docs', 'request.schema.json');

export function requestJsonSchema(): string {
  const schema = z.toJSONSchema(cleanupRequestSchema, { io: 'input', unrepresentable: 'any' });
  const doc = {
    ...schema,
    $id: 'https://retention-cleanup.invalid/request.schema.json',
    title: 'retention-cleanup request (input of the retentionCleanup workflow)',
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(SCHEMA_PATH, requestJsonSchema());
  console.log(`wrote ${SCHEMA_PATH}`);
}

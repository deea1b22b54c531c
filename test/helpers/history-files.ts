/**
 * The format of test/histories/*.json: the execution's workflow ID (replay needs it: batch IDs are
 * derived from the run's) and protobufjs object JSON of its History (enums, 64-bit integers and bytes
 * as strings). Read back with History.fromObject, which yields Long event ids, so the
 * replay worker takes the history as is. (The SDK's historyToJSON/historyFromJSON would be the
 * standard format, but with this install's two nested copies of protobufjs they throw
 * "type must be a Type".)
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
const HistoryType = temporal.api.history.v1.History;

export function historyToFile(workflowId: string, history: History): string {
  // Through the wire format, so whatever shape `history` came in, toObject sees a proper message.
  const message = HistoryType.decode(HistoryType.encode(history).finish());
  const obj = HistoryType.toObject(message, { enums: String, longs: String, bytes: String });
  // Failures' stack traces name the recording machine's paths; replay never reads them.
  const text = JSON.stringify(
    { workflowId, ...obj },
    (key, v: unknown) => (key === 'stackTrace' ? '' : v),
    1,
  );
  return `${text}\n`;
}

export function historyFromFile(text: string): { workflowId: string; history: History } {
  const { workflowId, ...rest } = JSON.parse(text) as { workflowId: string };
  return { workflowId, history: HistoryType.fromObject(rest) };
}

/** Where the recorded histories live (test/replay.test.ts replays each). */
export const HISTORIES_DIR = resolve(__dirname, '..', 'histories');

/** Fetches a finished execution's history and writes it as test/histories/<name>.json (the recording scripts). */
export async function saveHistory(client: Client, name: string, workflowId: string): Promise<void> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  // The account names carry a random suffix; the file names do not.
  writeFileSync(join(HISTORIES_DIR, `${name}.json`), historyToFile(workflowId, history));
  console.log(`  ${name}.json: ${history.events?.length ?? 0} events (${workflowId})`);
}

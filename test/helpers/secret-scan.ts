/**
 * Looking for secrets where they must never be: the forms a secret can take (plain, URL-encoded,
 * base64 at any alignment), histories rendered as text with every payload decoded, and copies of the
 * process's stdout and stderr. Used by test/security.test.ts and test/secrets-file.test.ts.
 */
import type { Client } from '@temporalio/client';
import { waitFor } from './runs';

/** The secret as text, URL-encoded, and base64 at every byte alignment (e.g. inside a Basic auth header). */
export function leakForms(secret: string): string[] {
  const forms = [secret, encodeURIComponent(secret)];
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.from('x'.repeat(pad) + secret).toString('base64');
    forms.push(b64.slice(pad ? 4 : 0, -4)); // only the characters that depend on the secret alone
  }
  return forms;
}

/** The names of the places whose text holds one of the forms (never the form, so a failure leaks nothing). */
export function leaksIn(forms: string[], places: Record<string, string>): string[] {
  return Object.entries(places)
    .filter(([, text]) => forms.some((f) => text.includes(f)))
    .map(([where]) => where);
}

/** A history (or any proto object) as text: every byte field (payload data, metadata) decoded as UTF-8. */
export function asText(node: unknown, depth = 0): string {
  if (node === null || node === undefined) return '';
  if (node instanceof Uint8Array) return Buffer.from(node).toString('utf8');
  if (typeof node !== 'object') return String(node);
  if (depth > 40) return '';
  if (Array.isArray(node)) return node.map((x) => asText(x, depth + 1)).join('\n');
  const maybeLong = node as { low?: unknown; high?: unknown; toString(): string };
  if (typeof maybeLong.low === 'number' && typeof maybeLong.high === 'number') return maybeLong.toString();
  return Object.entries(node as Record<string, unknown>)
    .map(([k, v]) => `${k}=${asText(v, depth + 1)}`)
    .join('\n');
}

/** Copies of everything this process writes to stdout and stderr until stop(). */
export function captureStdio(): { text(): string; stop(): void } {
  const chunks: string[] = [];
  const originals = {
    out: process.stdout.write.bind(process.stdout),
    err: process.stderr.write.bind(process.stderr),
  };
  const tap = (original: typeof process.stdout.write) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
  process.stdout.write = tap(originals.out);
  process.stderr.write = tap(originals.err);
  return {
    text: () => chunks.join(''),
    stop() {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}

/**
 * Every history on a task queue as text (the run, its batches and the lanes), once visibility lists
 * the run, a batch and at least `lanes` lanes.
 */
export async function historiesText(
  client: Client,
  taskQueue: string,
  runId: string,
  lanes: number,
): Promise<string> {
  const executions = await waitFor(`the run, its batches and ${lanes} lane(s) in visibility`, async () => {
    const found: { workflowId: string; runId: string; type: string }[] = [];
    for await (const e of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) found.push(e);
    return found.some((e) => e.workflowId === runId) &&
      found.some((e) => e.type === 'cleanupBatch') &&
      found.filter((e) => e.type === 'accountLane').length >= lanes
      ? found
      : undefined;
  });
  const histories: string[] = [];
  for (const e of executions) {
    const history = await client.workflow.getHandle(e.workflowId, e.runId).fetchHistory();
    histories.push(`${e.type} ${e.workflowId}\n${asText(history)}`);
  }
  return histories.join('\n');
}

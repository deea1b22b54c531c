/**
 * Helpers shared by the orchestration tests: waiting for a condition, reading a run's per-item report
 * and checking that every item has exactly one outcome, and measuring the histories of every
 * execution on a task queue (event count, largest event, largest payload).
 */
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { RetentionClient } from '../../client/retention-client';
import type { RunSummary } from '../../contract/messages';
import { itemKey, type ItemOutcome, type ItemRef } from '../../contract/model';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * The run's summary, or a failure after `timeoutMs` that says where the run stood (progress) and what
 * the given diagnostics report (e.g. worker processes' stderr), instead of a silent hang.
 */
export async function resultWithin(
  rc: RetentionClient,
  runId: string,
  timeoutMs: number,
  diagnostics: () => string = () => '',
): Promise<RunSummary> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void rc.getProgress(runId).then(
        (p) =>
          reject(
            new Error(`run ${runId} not done after ${timeoutMs} ms: ${JSON.stringify(p)}\n${diagnostics()}`),
          ),
        (err: unknown) =>
          reject(
            new Error(
              `run ${runId} not done after ${timeoutMs} ms (progress: ${String(err)})\n${diagnostics()}`,
            ),
          ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([rc.result(runId), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function reportOf(rc: RetentionClient, runId: string): Promise<ItemOutcome[]> {
  const out: ItemOutcome[] = [];
  for await (const o of rc.report(runId)) out.push(o);
  return out;
}

/** Every expected item has exactly one outcome, and nothing else has one. Returns outcomes by key. */
export function assertOneOutcomeEach(outcomes: ItemOutcome[], expected: ItemRef[]): Map<string, ItemOutcome> {
  const byKey = new Map<string, ItemOutcome>();
  for (const o of outcomes) {
    const key = itemKey(o);
    assert.ok(!byKey.has(key), `item ${key} has more than one outcome`);
    byKey.set(key, o);
  }
  for (const i of expected) assert.ok(byKey.has(itemKey(i)), `item ${itemKey(i)} has no outcome`);
  assert.equal(byKey.size, expected.length, 'outcomes for items that were not requested');
  for (const o of outcomes) assert.ok(o.reason, `outcome of ${itemKey(o)} carries a reason`);
  return byKey;
}

/** Simulator keys (`vbs:<project>:<id>`) accepted more than once. */
export function repeatedAccepts(accepted: Record<string, number>): string[] {
  return Object.entries(accepted)
    .filter(([, n]) => n > 1)
    .map(([k, n]) => `${k} x${n}`);
}

export interface ExecutionStats {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  events: number;
  /** Largest single event, protobuf-encoded. */
  largestEventBytes: number;
  /** Largest single payload (the data of one argument, result, signal or memo value). */
  largestPayloadBytes: number;
  /** ActivityTaskStarted identities (which workers ran this execution's activities). */
  activityWorkers: Set<string>;
  /** Events by type, e.g. EVENT_TYPE_TIMER_STARTED → 3. */
  eventTypes: Map<string, number>;
  /** Signals received, by name. */
  signalsReceived: Map<string, number>;
}

function largestPayload(node: unknown, depth = 0): number {
  if (!node || typeof node !== 'object' || depth > 12) return 0;
  if (node instanceof Uint8Array) return 0;
  const o = node as Record<string, unknown>;
  let max = 0;
  if (o.data instanceof Uint8Array && 'metadata' in o) max = o.data.length;
  for (const v of Object.values(o)) {
    if (Array.isArray(v)) for (const x of v) max = Math.max(max, largestPayload(x, depth + 1));
    else max = Math.max(max, largestPayload(v, depth + 1));
  }
  return max;
}

/** Fetches and measures one execution's full history. */
export async function measureExecution(
  client: Client,
  workflowId: string,
  runId: string,
  type = '',
  status = '',
): Promise<ExecutionStats> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const stats: ExecutionStats = {
    workflowId,
    runId,
    type,
    status,
    events: history.events?.length ?? 0,
    largestEventBytes: 0,
    largestPayloadBytes: 0,
    activityWorkers: new Set(),
    eventTypes: new Map(),
    signalsReceived: new Map(),
  };
  for (const ev of history.events ?? []) {
    const size = temporal.api.history.v1.HistoryEvent.encode(ev).finish().length;
    stats.largestEventBytes = Math.max(stats.largestEventBytes, size);
    stats.largestPayloadBytes = Math.max(stats.largestPayloadBytes, largestPayload(ev));
    const type = temporal.api.enums.v1.EventType[ev.eventType ?? 0] ?? String(ev.eventType);
    stats.eventTypes.set(type, (stats.eventTypes.get(type) ?? 0) + 1);
    const signalName = ev.workflowExecutionSignaledEventAttributes?.signalName;
    if (signalName) stats.signalsReceived.set(signalName, (stats.signalsReceived.get(signalName) ?? 0) + 1);
    const started = ev.activityTaskStartedEventAttributes;
    if (started?.identity) stats.activityWorkers.add(started.identity);
  }
  return stats;
}

/** Every execution (each run of a continue-as-new chain counts on its own) matching a visibility query. */
export async function measureExecutions(
  client: Client,
  query: string,
  concurrency = 4,
): Promise<ExecutionStats[]> {
  const found: { workflowId: string; runId: string; type: string; status: string }[] = [];
  for await (const e of client.workflow.list({ query })) {
    found.push({ workflowId: e.workflowId, runId: e.runId, type: e.type, status: e.status.name });
  }
  const out: ExecutionStats[] = [];
  for (let i = 0; i < found.length; i += concurrency) {
    const part = found.slice(i, i + concurrency);
    out.push(
      ...(await Promise.all(
        part.map((e) => measureExecution(client, e.workflowId, e.runId, e.type, e.status)),
      )),
    );
  }
  return out;
}

/** Every outcome of a run's report by item id (runs whose ids are unique across accounts). */
export async function reportById(rc: RetentionClient, runId: string): Promise<Map<string, ItemOutcome>> {
  return new Map((await reportOf(rc, runId)).map((o) => [o.id, o]));
}

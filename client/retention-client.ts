/**
 * The typed programmatic client. Requests are validated before Temporal is contacted; big item lists
 * are paged into the run (addItems updates), so no payload grows with the run.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { BATCH_SIZE, type BatchResult } from '../workflows/cleanup-batch';
import { TASK_QUEUE } from '../workflows/ids';
import {
  addItemsUpdate,
  cancelSignal,
  pauseSignal,
  progressQuery,
  resumeSignal,
  sealItemsUpdate,
  type RunProgress,
  type RunSummary,
} from '../workflows/messages';
import { itemKey, type ItemOutcome, type ItemRef } from '../workflows/model';
import { MAX_ITEMS_PER_PAGE, parseCleanupRequest, type CleanupRequestInput } from '../workflows/request';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { temporalSettings } from './connection';

export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  constructor(readonly problems: string[]) {
    super(`invalid cleanup request:\n  - ${problems.join('\n  - ')}`);
  }
}

export interface StartOptions {
  workflowId?: string;
  taskQueue?: string;
}

export class RetentionClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string = TASK_QUEUE,
  ) {}

  /** Connects using Temporal's environment conventions (TEMPORAL_ADDRESS, profiles, API key, TLS). */
  static async connect(opts: { address?: string; namespace?: string; taskQueue?: string } = {}): Promise<RetentionClient> {
    const s = temporalSettings(opts);
    const connection = await Connection.connect(s.connectionOptions);
    return new RetentionClient(new Client({ connection, namespace: s.namespace }), opts.taskQueue);
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }

  /**
   * Validates and starts a run. More than MAX_ITEMS_PER_PAGE items are sent in pages after the start;
   * duplicates are merged here first. Returns the run's workflow ID.
   */
  async start(request: CleanupRequestInput, opts: StartOptions = {}): Promise<string> {
    const parsed = parseCleanupRequest(request);
    if (!parsed.ok) throw new InvalidRequestError(parsed.problems);
    const seen = new Set<string>();
    const items = (request.items ?? []).filter((i) => !seen.has(itemKey(i)) && seen.add(itemKey(i)));
    // Validate every page before starting anything, so a bad item 12,345 fails before item 1 is touched.
    for (let i = MAX_ITEMS_PER_PAGE; i < items.length; i += MAX_ITEMS_PER_PAGE) {
      const p = parseCleanupRequest({ items: items.slice(i, i + MAX_ITEMS_PER_PAGE), dryRun: true });
      if (!p.ok) throw new InvalidRequestError(p.problems.map((x) => x.replace(/^items\[(\d+)\]/, (_, n) => `items[${Number(n) + i}]`)));
    }
    const paged = items.length > MAX_ITEMS_PER_PAGE;
    const first = { ...request, items: items.slice(0, MAX_ITEMS_PER_PAGE), ...(paged ? { itemsToFollow: true } : {}) };
    const workflowId = opts.workflowId ?? defaultWorkflowId(request.label);
    const handle = await this.client.workflow.start(retentionCleanup, {
      workflowId,
      taskQueue: opts.taskQueue ?? this.taskQueue,
      args: [first],
      memo: { label: request.label ?? '', startedBy: 'retention-client' },
    });
    if (paged) {
      for (let i = MAX_ITEMS_PER_PAGE; i < items.length; i += MAX_ITEMS_PER_PAGE) {
        await handle.executeUpdate(addItemsUpdate, { args: [{ items: items.slice(i, i + MAX_ITEMS_PER_PAGE) }] });
      }
      await handle.executeUpdate(sealItemsUpdate);
    }
    return workflowId;
  }

  handle(workflowId: string): WorkflowHandle<typeof retentionCleanup> {
    return this.client.workflow.getHandle<typeof retentionCleanup>(workflowId);
  }

  async result(workflowId: string): Promise<RunSummary> {
    return this.handle(workflowId).result();
  }

  async getProgress(workflowId: string): Promise<RunProgress> {
    return this.handle(workflowId).query(progressQuery);
  }

  async pause(workflowId: string, reason?: string): Promise<void> {
    await this.handle(workflowId).signal(pauseSignal, { reason });
  }

  async resume(workflowId: string): Promise<void> {
    await this.handle(workflowId).signal(resumeSignal);
  }

  async cancel(workflowId: string, reason?: string): Promise<void> {
    await this.handle(workflowId).signal(cancelSignal, { reason });
  }

  /** Every item's outcome, read from the batches' results. Waits for the run to finish. */
  async *report(workflowId: string): AsyncGenerator<ItemOutcome> {
    const summary = await this.result(workflowId);
    for (const id of summary.batchWorkflowIds) {
      const batch = (await this.client.workflow.getHandle(id).result()) as BatchResult;
      yield* batch.outcomes;
    }
  }
}

export function defaultWorkflowId(label?: string): string {
  const slug = (label ?? 'run').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
  return `retention-cleanup/${slug}-${randomUUID().slice(0, 8)}`;
}

export { BATCH_SIZE, WorkflowExecutionAlreadyStartedError };
export type { ItemRef };

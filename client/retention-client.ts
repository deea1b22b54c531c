/**
 * The typed programmatic client. Requests are validated before Temporal is contacted; big item lists
 * are paged into the run (addItems updates), so no payload grows with the run.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import { BATCH_SIZE, type BatchResult } from '../workflows/cleanup-batch';
import { TASK_QUEUE } from '../contract/ids';
import {
  addItemsUpdate,
  cancelSignal,
  pauseSignal,
  progressQuery,
  resumeSignal,
  sealItemsUpdate,
  type RunProgress,
  type RunSummary,
} from '../contract/messages';
import type { ItemOutcome, ItemRef } from '../contract/model';
import { MAX_ITEMS_PER_PAGE, type CleanupRequestInput } from '../contract/request';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { runDetails, runSummary } from '../contract/user-metadata';
import { dataConverterFromEnv } from '../codec/data-converter';
import { temporalSettings } from './connection';
import { InvalidRequestError, validateRequest } from './request-validation';
import { REQUEST_HASH_MEMO_KEY, requestHash } from './request-hash';
import { reportSummary, type ReportSummary } from './report';
import { RetentionSchedules } from './schedules';
import { errorMessage } from './error-message';
import * as approval from './approval';
import type { ApproveInput, RejectInput, RunPlan } from '../contract/approval';

export interface StartOptions {
  workflowId?: string;
  taskQueue?: string;
  /** Recorded in the run's memo (`startedBy`), e.g. "cli" or the calling service's name. */
  startedBy?: string;
}

export interface ConnectOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  /** How long to wait for the server before giving up (ms or "5s"); Temporal's default is 10 s. */
  connectTimeout?: number | string;
}

/** Where a run stands: its Temporal status, plus live progress (running) or the summary (completed). */
export interface RunStatus {
  workflowId: string;
  runId: string;
  status: WorkflowExecutionStatusName;
  startTime: string;
  closeTime?: string;
  /** While running: the `progress` query's answer. */
  progress?: RunProgress;
  /** Why progress is missing while running (e.g. no worker answers queries). */
  progressError?: string;
  /** Completed runs: the run's summary. */
  summary?: RunSummary;
  /** Failed, terminated, timed-out or cancelled runs: what happened. */
  failure?: string;
}

export interface FollowOptions {
  /** Time between two progress queries (each is a billable action on Temporal Cloud). Default 2000 ms. */
  intervalMs?: number;
  onProgress?: (progress: RunProgress) => void;
  /** A progress query failed (the run may still be fine, e.g. a worker restarting). */
  onProgressError?: (err: unknown) => void;
  /** Stops following (rejects with an AbortError); the run itself goes on. */
  signal?: AbortSignal;
  /** Deadline of one progress query. Default 10 s. */
  queryTimeoutMs?: number;
}

export class RetentionClient {
  private schedulesHelper?: RetentionSchedules;

  constructor(
    readonly client: Client,
    readonly taskQueue: string = TASK_QUEUE,
  ) {}

  /** Connects using Temporal's environment conventions (TEMPORAL_ADDRESS, profiles, API key, TLS). */
  static async connect(opts: ConnectOptions = {}): Promise<RetentionClient> {
    const s = temporalSettings(opts);
    // Reads and writes encrypted payloads when RETENTION_CODEC_KEYS is set (the worker's keys); a bad
    // key list fails here, before connecting.
    const dataConverter = dataConverterFromEnv();
    const connection = await Connection.connect({
      ...s.connectionOptions,
      ...(opts.connectTimeout !== undefined ? { connectTimeout: opts.connectTimeout as number } : {}),
    });
    return new RetentionClient(
      new Client({ connection, namespace: s.namespace, dataConverter }),
      opts.taskQueue,
    );
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }

  /** Temporal Schedules that start cleanup runs (create, list, describe, pause, trigger, backfill...). */
  get schedules(): RetentionSchedules {
    return (this.schedulesHelper ??= new RetentionSchedules(this.client, this.taskQueue));
  }

  /**
   * Validates and starts a run. More than MAX_ITEMS_PER_PAGE items are sent in pages after the start;
   * duplicates are merged here first. Every page is validated before anything starts. Returns the run's
   * workflow ID. Throws InvalidRequestError (before contacting Temporal) for a bad request.
   */
  async start(request: CleanupRequestInput, opts: StartOptions = {}): Promise<string> {
    const parsed = validateRequest(request);
    if (!parsed.ok) throw new InvalidRequestError(parsed.problems);
    const { request: req, items } = parsed.value;
    const paged = items.length > MAX_ITEMS_PER_PAGE;
    const first = {
      ...req,
      items: items.slice(0, MAX_ITEMS_PER_PAGE),
      ...(paged || req.itemsToFollow ? { itemsToFollow: true } : {}),
    };
    if (!first.items.length) delete (first as { items?: ItemRef[] }).items;
    const workflowId = opts.workflowId ?? defaultWorkflowId(req.label);
    const handle = await this.client.workflow.start(retentionCleanup, {
      workflowId,
      taskQueue: opts.taskQueue ?? this.taskQueue,
      args: [first],
      memo: {
        label: req.label ?? '',
        startedBy: opts.startedBy ?? 'retention-client',
        // Only when every item is known here: a caller that sends its own pages adds items later.
        ...(req.itemsToFollow ? {} : { [REQUEST_HASH_MEMO_KEY]: requestHash(req) }),
      },
      // What the Web UI and `temporal workflow describe` show at the top of the run.
      staticSummary: runSummary(req, items.length),
      staticDetails: runDetails(req, {
        startedBy: opts.startedBy ?? 'retention-client',
        totalItems: items.length,
      }),
    });
    if (paged) {
      let sent = MAX_ITEMS_PER_PAGE;
      try {
        for (; sent < items.length; sent += MAX_ITEMS_PER_PAGE) {
          const page = items.slice(sent, sent + MAX_ITEMS_PER_PAGE);
          // A deterministic id: the server deduplicates a page sent twice.
          const updateId = `addItems-${sent / MAX_ITEMS_PER_PAGE}`;
          await onceMore(() => handle.executeUpdate(addItemsUpdate, { args: [{ items: page }], updateId }));
        }
        // A caller that asked for itemsToFollow sends more pages itself, then seals.
        if (!req.itemsToFollow)
          await onceMore(() => handle.executeUpdate(sealItemsUpdate, { updateId: 'sealItems' }));
      } catch (err) {
        // Never leave a run waiting forever for pages that will not come: seal it and cancel it.
        await handle.executeUpdate(sealItemsUpdate, { updateId: 'sealItems' }).catch(() => undefined);
        await handle
          .signal(cancelSignal, { reason: 'client failed while adding items' })
          .catch(() => undefined);
        throw new Error(
          `run ${workflowId} started, but adding its items failed after ${Math.min(sent, items.length)} of ` +
            `${items.length}; the run was sealed and cancelled (unsent items end skipped). Start a new run. ` +
            `Cause: ${errorMessage(err)}`,
          { cause: err },
        );
      }
    }
    return workflowId;
  }

  /**
   * Adds items to a run started with `itemsToFollow: true` (validated first, paged, duplicates within
   * this call merged). Returns the run's total so far. Call seal() after the last page.
   */
  async addItems(workflowId: string, items: ItemRef[]): Promise<{ accepted: number; total: number }> {
    const parsed = validateRequest({ items, itemsToFollow: true });
    if (!parsed.ok) throw new InvalidRequestError(parsed.problems, 'items');
    const unique = parsed.value.items;
    let result = { accepted: 0, total: 0 };
    // Each page has its own update id, so the one retry below (a busy server's refusal) can never add
    // a page twice: Temporal answers a repeated update id with the first call's result.
    const callId = randomUUID();
    for (let i = 0; i < unique.length; i += MAX_ITEMS_PER_PAGE) {
      const updateId = `addItems-${callId}-${i / MAX_ITEMS_PER_PAGE}`;
      const r = await onceMore(() =>
        this.handle(workflowId).executeUpdate(addItemsUpdate, {
          args: [{ items: unique.slice(i, i + MAX_ITEMS_PER_PAGE) }],
          updateId,
        }),
      );
      result = { accepted: result.accepted + r.accepted, total: r.total };
    }
    return result;
  }

  /** No more items will follow: the run ends once the items it has are done. */
  async seal(workflowId: string): Promise<{ total: number }> {
    // Sealing is idempotent and its update id fixed: retried once when the server refuses it (a busy
    // workflow under load answers "Workflow Update failed" at once).
    return onceMore(() => this.handle(workflowId).executeUpdate(sealItemsUpdate, { updateId: 'sealItems' }));
  }

  handle(workflowId: string): WorkflowHandle<typeof retentionCleanup> {
    return this.client.workflow.getHandle<typeof retentionCleanup>(workflowId);
  }

  async result(workflowId: string): Promise<RunSummary> {
    return this.handle(workflowId).result();
  }

  async getProgress(workflowId: string, opts: { timeoutMs?: number } = {}): Promise<RunProgress> {
    const handle = this.handle(workflowId);
    return this.client.withDeadline(Date.now() + (opts.timeoutMs ?? 10_000), () =>
      handle.query(progressQuery),
    );
  }

  /** The run's Temporal status with its progress (running) or summary (completed). */
  async status(workflowId: string, opts: { queryTimeoutMs?: number } = {}): Promise<RunStatus> {
    const handle = this.handle(workflowId);
    const d = await handle.describe();
    const out: RunStatus = {
      workflowId,
      runId: d.runId,
      status: d.status.name,
      startTime: d.startTime.toISOString(),
      ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
    };
    if (d.status.name === 'RUNNING') {
      try {
        out.progress = await this.getProgress(workflowId, { timeoutMs: opts.queryTimeoutMs });
      } catch (err) {
        out.progressError = errorMessage(err);
      }
    } else {
      try {
        out.summary = await this.client.workflow
          .getHandle<typeof retentionCleanup>(workflowId, d.runId)
          .result();
      } catch (err) {
        out.failure = errorMessage(err);
      }
    }
    return out;
  }

  /**
   * Waits for the run to finish, reporting progress every `intervalMs` through `onProgress`.
   * Resolves with the summary; rejects like result() (WorkflowFailedError) or with an AbortError.
   */
  async follow(workflowId: string, opts: FollowOptions = {}): Promise<RunSummary> {
    const interval = opts.intervalMs ?? 2000;
    const signal = opts.signal ?? new AbortController().signal;
    const handle = this.handle(workflowId);
    let finished = false;
    let succeeded = false;
    const result = this.client.withAbortSignal(signal, () => handle.result());
    const settled = result.then(
      () => (finished = succeeded = true),
      () => (finished = true),
    );
    while (!finished) {
      try {
        const p = await this.getProgress(workflowId, { timeoutMs: opts.queryTimeoutMs });
        if (!finished) opts.onProgress?.(p);
      } catch (err) {
        if (!finished && !signal.aborted) opts.onProgressError?.(err);
      }
      if (signal.aborted) break;
      await Promise.race([settled, sleep(interval, undefined, { signal }).catch(() => undefined)]);
    }
    if (signal.aborted && !succeeded) {
      // The aborted history poll rejects too; the caller learns that following stopped, not why the poll failed.
      result.catch(() => undefined);
      throw signal.reason instanceof Error
        ? signal.reason
        : new DOMException('stopped following', 'AbortError');
    }
    return result;
  }

  /** The plan a run awaits approval with (README, "Approving deletions"). */
  async getPlan(workflowId: string): Promise<RunPlan> {
    return approval.getPlan(this.handle(workflowId));
  }

  /** Approves the plan by its hash; ApprovalRefusedError (with the run's reason) when refused. */
  async approve(workflowId: string, input: ApproveInput): Promise<{ approved: true; planHash: string }> {
    return approval.approve(this.handle(workflowId), input);
  }

  /** Rejects the plan: nothing is deleted; ApprovalRefusedError when refused. */
  async reject(workflowId: string, input: RejectInput): Promise<{ rejected: true }> {
    return approval.reject(this.handle(workflowId), input);
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

  /**
   * Every item's outcome, in request order (duplicates merged), read from the batches' results.
   * Waits for the run to finish. A few batch results are fetched ahead (`prefetch`, default 4).
   */
  async *report(workflowId: string, opts: { prefetch?: number } = {}): AsyncGenerator<ItemOutcome> {
    const summary = await this.result(workflowId);
    yield* this.outcomesOf(summary.batchWorkflowIds, opts);
  }

  /**
   * What a report says about its run before the items (client/report.ts): workflow id, request hash,
   * approver, start and end, counts. Waits for the run to finish.
   */
  async reportSummary(workflowId: string): Promise<ReportSummary> {
    const run = await this.result(workflowId);
    // Described after the end: the approval is written to the memo while the run waits for it.
    const { memo } = await this.handle(workflowId).describe();
    return reportSummary(run, memo);
  }

  /** The outcomes held by the given batch workflows, in order. */
  async *outcomesOf(
    batchWorkflowIds: string[],
    opts: { prefetch?: number } = {},
  ): AsyncGenerator<ItemOutcome> {
    const ahead = Math.max(1, opts.prefetch ?? 4);
    const pending: Promise<BatchResult>[] = [];
    let next = 0;
    const fill = () => {
      while (pending.length < ahead && next < batchWorkflowIds.length) {
        const p = this.client.workflow.getHandle(batchWorkflowIds[next++]!).result() as Promise<BatchResult>;
        p.catch(() => undefined); // surfaced when awaited below; never an unhandled rejection
        pending.push(p);
      }
    };
    fill();
    while (pending.length) {
      const batch = await pending.shift()!;
      fill();
      yield* batch.outcomes;
    }
  }
}

export function defaultWorkflowId(label?: string): string {
  const slug =
    (label ?? 'run')
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'run';
  return `retention-cleanup/${slug}-${randomUUID().slice(0, 8)}`;
}

export { BATCH_SIZE, InvalidRequestError, WorkflowExecutionAlreadyStartedError, WorkflowFailedError };
export type { ItemRef };
export { errorMessage };

/**
 * Sends an update again once if it failed: under load the server can lose the workflow task that
 * carried it ("Workflow Update failed"). The update id is the same, so an update that did land is
 * not applied twice: the server answers the second call with the first one's outcome.
 */
async function onceMore<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch {
    await new Promise((r) => setTimeout(r, 500));
    return send();
  }
}

/**
 * Observability of the activities, without touching the activities themselves:
 *
 *  - an activity interceptor that adds the run, account, provider and item ids to every activity log
 *    line (the SDK's own "Activity failed" lines included) and counts outcomes, retries, failed
 *    attempts, throttle waits and deletions in flight (worker/metrics.ts);
 *  - a subscriber to undici's diagnostics channels that times every provider HTTP request made inside
 *    one of this worker's activities (the HTTP layer, activities/http.ts, stays as it is).
 *
 * Nothing here reads request headers or bodies, so credentials and tokens never reach a log or a label;
 * URLs are not labels either (only provider, method and status class), which keeps label sets bounded.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, type MetricTags } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { LoadedConfig } from '../worker/config';
import type { RetentionMetrics } from '../worker/metrics';
import { runWorkflowIdOf } from '../contract/ids';
import type { ItemOutcome } from '../contract/model';

/** What an activity works on, as far as its input tells (duck-typed, so new activities need no change here). */
export interface ActivitySubject {
  account?: string;
  provider?: string;
  itemId?: string;
  checkpointId?: string;
  /** The cleanup run's workflow ID, when the input names the run or one of its batches. */
  run?: string;
  batchWorkflowId?: string;
}

/** The activity a provider request is made for: set by the interceptor, read by the HTTP subscriber. */
interface RequestScope {
  owner: symbol;
  account?: string;
  provider: string;
}
const requestScope = new AsyncLocalStorage<RequestScope>();

export interface Instrumentation {
  interceptors: ActivityInterceptorsFactory;
  /** Stops listening to undici (the worker has stopped). */
  close(): void;
}

export function instrumentActivities(loaded: LoadedConfig, metrics: RetentionMetrics): Instrumentation {
  // Several workers may share a process (tests): each one measures only its own activities' requests.
  const owner = Symbol('retention-worker');
  const providerOf = (account: string | undefined) =>
    account ? loaded.config.accounts[account]?.provider : undefined;

  const interceptors: ActivityInterceptorsFactory = (ctx: Context) => {
    let subject: ActivitySubject = {};
    return {
      inbound: {
        async execute(input, next) {
          subject = subjectOf(input.args[0]);
          subject.provider = providerOf(subject.account);
          const info = ctx.info;
          const tags = accountTags(subject);
          const isDeletion = info.activityType === 'deleteBackup';
          const isGroup = info.activityType === 'deleteBackups';
          // A group's items count as in flight while the group works on them.
          const inFlight = isDeletion ? 1 : isGroup ? itemCountOf(input.args[0]) : 0;
          if (info.attempt > 1) metrics.retries.add(1, { activity: info.activityType, ...tags });
          if (inFlight) metrics.inFlight.add(inFlight, tags);
          const started = performance.now();
          try {
            const run = () => next(input);
            const result = subject.provider
              ? await requestScope.run({ owner, account: subject.account, provider: subject.provider }, run)
              : await run();
            // A group's items handed on continue as deleteBackup activities, which count their own outcomes.
            for (const o of outcomesOf(info.activityType, result)) {
              metrics.outcomes.add(1, { ...tags, outcome: o.outcome });
              if (o.outcome === 'deleted' && o.sizeBytes)
                metrics.bytesDeleted.add(Math.round(o.sizeBytes), tags);
              metrics.attemptDuration.record(seconds(started), {
                provider: subject.provider ?? '',
                result: o.outcome,
              });
              ctx.log.info('deletion finished', {
                outcome: o.outcome,
                ...(o.id ? { itemId: o.id } : {}),
                ...(o.checkpointId ? { checkpointId: o.checkpointId } : {}),
                ...codeOf(o),
                durationMs: Math.round(performance.now() - started),
              });
            }
            return result;
          } catch (err) {
            const failure = describeFailure(err, info);
            if (!failure.cancelled) {
              metrics.attemptFailures.add(1, {
                activity: info.activityType,
                ...tags,
                error_type: failure.type,
                retryable: String(!failure.final),
              });
              if (failure.retryDelayMs)
                metrics.throttleWaitMs.add(failure.retryDelayMs, { ...tags, reason: failure.type });
            }
            if (isDeletion) {
              metrics.attemptDuration.record(seconds(started), {
                provider: subject.provider ?? '',
                result: 'error',
              });
            }
            // The lane turns a final failure into a `failed` outcome for every item the activity held
            // (workflows/activity-failures.ts).
            if (inFlight && failure.final && !failure.cancelled)
              metrics.outcomes.add(inFlight, { ...tags, outcome: 'failed' });
            throw err;
          } finally {
            if (inFlight) metrics.inFlight.add(-inFlight, tags);
          }
        },
      },
      outbound: {
        // Evaluated on every log call, so the SDK's own activity log lines carry these too.
        getLogAttributes: (attrs, next) => next({ ...attrs, ...definedOnly(subject) }),
      },
    };
  };

  const onCreate = (message: unknown) => {
    const scope = requestScope.getStore();
    if (scope?.owner !== owner) return;
    const { request } = message as { request: object };
    started.set(request, { scope, at: performance.now() });
  };
  const started = new WeakMap<object, { scope: RequestScope; at: number }>();
  const finish = (request: object, statusClass: string, status?: number) => {
    const s = started.get(request);
    if (!s) return;
    started.delete(request);
    const method = (request as { method?: string }).method ?? 'UNKNOWN';
    metrics.requestDuration.record(seconds(s.at), {
      provider: s.scope.provider,
      method,
      status_class: statusClass,
    });
    if (status === 429) {
      metrics.throttled.add(1, {
        provider: s.scope.provider,
        ...(s.scope.account ? { account: s.scope.account } : {}),
      });
    }
  };
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    finish(request, `${Math.floor(response.statusCode / 100)}xx`, response.statusCode);
  };
  const onError = (message: unknown) => finish((message as { request: object }).request, 'error');

  diagnosticsChannel.subscribe('undici:request:create', onCreate);
  diagnosticsChannel.subscribe('undici:request:headers', onHeaders);
  diagnosticsChannel.subscribe('undici:request:error', onError);
  return {
    interceptors,
    close() {
      diagnosticsChannel.unsubscribe('undici:request:create', onCreate);
      diagnosticsChannel.unsubscribe('undici:request:headers', onHeaders);
      diagnosticsChannel.unsubscribe('undici:request:error', onError);
    },
  };
}

/** Reads the ids an activity input carries: deleteBackup {item}, deleteBackups {items}, enqueueToLane {batchWorkflowId, limits}, planAccount {runWorkflowId, limits}. */
export function subjectOf(input: unknown): ActivitySubject {
  if (!input || typeof input !== 'object') return {};
  const i = input as {
    item?: { account?: unknown; id?: unknown; checkpointId?: unknown };
    items?: { account?: unknown }[];
    limits?: { name?: unknown };
    account?: unknown;
    runWorkflowId?: unknown;
    batchWorkflowId?: unknown;
  };
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const batchWorkflowId = str(i.batchWorkflowId);
  return definedOnly({
    account:
      str(i.item?.account) ??
      str(Array.isArray(i.items) ? i.items[0]?.account : undefined) ??
      str(i.limits?.name) ??
      str(i.account),
    itemId: str(i.item?.id),
    checkpointId: str(i.item?.checkpointId),
    run: str(i.runWorkflowId) ?? (batchWorkflowId ? runWorkflowIdOf(batchWorkflowId) : undefined),
    batchWorkflowId,
  });
}

function itemCountOf(input: unknown): number {
  const items = (input as { items?: unknown } | undefined)?.items;
  return Array.isArray(items) ? items.length : 0;
}

/** What the metrics and the log say of an item a deletion activity finished. */
interface FinishedItem {
  outcome: string;
  id?: string;
  checkpointId?: string;
  code?: string;
  sizeBytes?: number;
}

/** The items a deletion activity's result finished: deleteBackup's one, or a group's (GroupItemResult). */
function outcomesOf(activityType: string, result: unknown): FinishedItem[] {
  if (activityType === 'deleteBackup') {
    const o = result as Partial<ItemOutcome> | undefined;
    return [{ ...o, outcome: o?.outcome ?? 'unknown' }];
  }
  if (activityType !== 'deleteBackups' || !Array.isArray(result)) return [];
  return result.flatMap((r: { outcome?: ItemOutcome }) => (r?.outcome ? [r.outcome] : []));
}

function accountTags(s: ActivitySubject): MetricTags {
  return { ...(s.account ? { account: s.account } : {}), ...(s.provider ? { provider: s.provider } : {}) };
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function codeOf(result: unknown): { code?: string } {
  const code = (result as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? { code } : {};
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

interface FailureView {
  type: string;
  /** No further attempt follows: non-retryable, a non-retryable type, or the last allowed attempt. */
  final: boolean;
  cancelled: boolean;
  retryDelayMs?: number;
}

/** How Temporal will treat an attempt's error, as far as the worker can tell (deadlines are the server's). */
export function describeFailure(err: unknown, info: Context['info']): FailureView {
  const e = err as { name?: string; type?: string };
  if (e?.name === 'CancelledFailure' || e?.name === 'AbortError')
    return { type: 'Cancelled', final: true, cancelled: true };
  const type = err instanceof ApplicationFailure ? (err.type ?? 'Error') : (e?.name ?? 'Error');
  const policy = info.retryPolicy;
  const final =
    (err instanceof ApplicationFailure && err.nonRetryable) ||
    (policy?.nonRetryableErrorTypes?.includes(type) ?? false) ||
    (!!policy?.maximumAttempts && info.attempt >= policy.maximumAttempts);
  const delay = err instanceof ApplicationFailure ? err.nextRetryDelay : undefined;
  const retryDelayMs = final || delay === undefined || delay === null ? undefined : durationToMs(delay);
  return { type, final, cancelled: false, ...(retryDelayMs ? { retryDelayMs } : {}) };
}

/** nextRetryDelay is a number of ms or an ms-style string ("3s"); our adapters always set numbers. */
function durationToMs(d: unknown): number | undefined {
  if (typeof d === 'number') return d;
  const m = typeof d === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(d.trim()) : null;
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

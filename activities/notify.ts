/**
 * The `sendNotification` activity (issue 14 item 6; docs/operations.md, "Notifications"): posts a run
 * event to every notification of the worker config that subscribes to it, as JSON or as a Slack
 * incoming-webhook message.
 *
 * The workflow hands over only the event (contract/notifications.ts); the URLs come from this worker's
 * config and credential references are resolved here, through the one resolver every credential uses
 * (LoadedConfig.secret), at the moment of sending. A URL is never returned, logged or put in an error:
 * a notification is named by its `name` or its index (README "Guarantees": secrets stay out of
 * Temporal, logs and reports).
 *
 * Delivery is best effort and bounded: a few attempts within a short deadline, then a warning and a
 * metric. The activity never throws, so a webhook that is down can never fail a run; the workflow also
 * never waits on it on the deletion path (workflows/run/events.ts).
 */
import { Context } from '@temporalio/activity';
import type { MetricCounter } from '@temporalio/common';
import { Agent, request } from 'undici';
import type { NotificationResult, RunEvent } from '../contract/notifications';
import type { LoadedConfig, NotificationConfig } from '../worker/config';

export interface NotifyTiming {
  /** Attempts per notification (the first included). */
  attempts: number;
  /** Waits between attempts, in ms (the last one repeats). */
  backoffMs: number[];
  /** One attempt's limit: connect, answer and body. */
  attemptTimeoutMs: number;
  /** Everything for one event, all notifications together. */
  deadlineMs: number;
}

/** 3 attempts within 25 s: under the workflow's 30 s schedule-to-close (workflows/run/events.ts). */
export const NOTIFY_TIMING: NotifyTiming = {
  attempts: 3,
  backoffMs: [1_000, 2_000],
  attemptTimeoutMs: 8_000,
  deadlineMs: 25_000,
};

export interface NotifyLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

export interface NotifyDeps {
  loaded: LoadedConfig;
  metrics: { notificationsDelivered: MetricCounter; notificationsFailed: MetricCounter };
  /** The Temporal namespace, for the Web UI link. */
  namespace: string;
  timing?: NotifyTiming;
  /** Default: the activity's logger (it adds the workflow and activity ids). */
  logger?: () => NotifyLogger;
}

/** The name a notification goes by in logs and metrics: never its URL. */
export function notificationName(n: NotificationConfig, index: number): string {
  return n.name ?? `notifications[${index}]`;
}

/** The Web UI page of a workflow. */
export function webUiUrlOf(base: string, namespace: string, workflowId: string): string {
  return `${base.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * The JSON payload: `{ event, workflowId, label, counts, planHash?, webUiUrl, at }`, plus `dryRun: true`
 * for a dry run and circuit-open's `account`, `reason` and `runs`.
 */
export function jsonPayload(e: RunEvent, webUiUrl: string): Record<string, unknown> {
  return {
    event: e.event,
    workflowId: e.workflowId,
    label: e.label,
    ...(e.dryRun ? { dryRun: true } : {}),
    ...(e.counts ? { counts: e.counts } : {}),
    ...(e.planHash !== undefined ? { planHash: e.planHash } : {}),
    ...(e.account !== undefined ? { account: e.account } : {}),
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
    ...(e.runs ? { runs: e.runs } : {}),
    webUiUrl,
    at: e.at,
  };
}

/** Slack's mrkdwn needs &, < and > escaped; everything else is literal. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A Slack incoming-webhook message: `text` (the notification's fallback) and the same in blocks. */
export function slackPayload(e: RunEvent, webUiUrl: string): { text: string; blocks: unknown[] } {
  const run = `retention ${e.dryRun ? 'dry run' : 'run'} ${e.label ? `"${e.label}" ` : ''}(${e.workflowId})`;
  const c = e.counts;
  const counts = c
    ? `${c.deleted} deleted, ${c.absent} already gone, ${c.failed} failed, ${c.blocked} blocked, ${c.skipped} skipped`
    : '';
  const headline = {
    'run-finished': `Finished: ${run}: ${counts}`,
    'run-problems': `Problems: ${run} ended with ${c ? `${c.failed} failed and ${c.blocked} blocked items (${counts})` : 'problems'}${e.reason ? `; ${e.reason}` : ''}`,
    'awaiting-approval': `Approval needed: ${run} waits for a person to approve plan ${e.planHash ?? '(no hash)'}`,
    'guard-violation': `Guard crossed: ${run}${e.reason ? `: ${e.reason}` : ''}`,
    'circuit-open': `Circuit open: account ${e.account ?? '?'} stopped sending deletions${e.reason ? `: ${e.reason}` : ''}${e.runs?.length ? ` (runs waiting: ${e.runs.join(', ')})` : ''}`,
  }[e.event];
  const text = `${esc(headline)} <${webUiUrl}|Open in Temporal>`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `event \`${e.event}\` at ${esc(e.at)}` }] },
    ],
  };
}

type Attempt = { ok: true } | { ok: false; retry: boolean; why: string };

export function createNotificationActivities(deps: NotifyDeps) {
  const timing = deps.timing ?? NOTIFY_TIMING;
  // Its own pool: verification explicitly on (NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn it off), and
  // webhook connections never share a provider account's pool or its TLS settings.
  const agent = new Agent({
    connections: 4,
    keepAliveTimeout: 10_000,
    headersTimeout: timing.attemptTimeoutMs,
    bodyTimeout: timing.attemptTimeoutMs,
    connectTimeout: timing.attemptTimeoutMs,
    connect: { rejectUnauthorized: true },
  });
  const logger = deps.logger ?? (() => Context.current().log);

  async function post(url: string, body: string, deadline: AbortSignal): Promise<Attempt> {
    const signal = AbortSignal.any([deadline, AbortSignal.timeout(timing.attemptTimeoutMs)]);
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'retention-cleanup' },
        body,
        dispatcher: agent,
        signal,
      });
      await res.body.dump().catch(() => undefined);
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
      // A 4xx other than 408/429 will not change on retry (a revoked webhook, a bad URL path).
      const retry = res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429;
      return { ok: false, retry, why: `HTTP ${res.statusCode}` };
    } catch (err) {
      // The code only (ECONNREFUSED, UND_ERR_CONNECT_TIMEOUT, ...): transport messages may name the host.
      const code = (err as { code?: unknown }).code;
      const why =
        signal.aborted && !deadline.aborted
          ? `no answer within ${timing.attemptTimeoutMs} ms`
          : deadline.aborted
            ? `the ${timing.deadlineMs} ms deadline passed`
            : typeof code === 'string'
              ? code
              : (err as Error).name;
      return { ok: false, retry: !deadline.aborted, why };
    }
  }

  async function deliver(
    n: NotificationConfig,
    index: number,
    event: RunEvent,
    webUiUrl: string,
    deadline: AbortSignal,
  ): Promise<{ ok: boolean; attempts: number; why?: string }> {
    let url: string;
    try {
      url = typeof n.url === 'string' ? n.url : deps.loaded.secret(n.url);
    } catch (err) {
      // The resolver's own errors name the variable, file or key, never a value; others by code only.
      const e = err as Error & { code?: unknown };
      const why =
        e.name === 'ConfigError' || e.name === 'SecretsFileError'
          ? e.message
          : `cannot read the reference (${typeof e.code === 'string' ? e.code : e.name})`;
      return { ok: false, attempts: 0, why };
    }
    if (!isHttpUrl(url))
      return {
        ok: false,
        attempts: 0,
        why: 'the referenced value is not an absolute http(s) URL (not shown: it may hold a secret)',
      };
    const body = JSON.stringify(
      n.format === 'slack' ? slackPayload(event, webUiUrl) : jsonPayload(event, webUiUrl),
    );
    let last: Attempt = { ok: false, retry: true, why: 'not sent' };
    let attempts = 0;
    while (attempts < timing.attempts && !deadline.aborted) {
      if (attempts > 0) {
        const wait = timing.backoffMs[Math.min(attempts - 1, timing.backoffMs.length - 1)] ?? 0;
        await sleep(wait, deadline);
        if (deadline.aborted) break;
      }
      attempts++;
      last = await post(url, body, deadline);
      if (last.ok || !last.retry) break;
    }
    if (!last.ok && deadline.aborted && attempts < timing.attempts)
      last = { ok: false, retry: false, why: `${last.why}; the ${timing.deadlineMs} ms deadline passed` };
    return last.ok ? { ok: true, attempts } : { ok: false, attempts, why: last.why };
  }

  const activities = {
    /**
     * Sends one run event to the matching notifications of this worker's config. Never throws: a
     * notification that cannot be delivered is logged (by name, without its URL) and counted.
     */
    async sendNotification({ event }: { event: RunEvent }): Promise<NotificationResult> {
      const { notifications, webUiUrl: uiBase } = deps.loaded.config;
      const matching = notifications
        .map((n, index) => ({ n, index }))
        .filter(({ n }) => n.events.includes(event.event));
      const result: NotificationResult = { matched: matching.length, delivered: 0, failed: 0 };
      if (!matching.length) return result;
      const webUiUrl = webUiUrlOf(uiBase, deps.namespace, event.workflowId);
      const deadline = AbortSignal.timeout(timing.deadlineMs);
      const outcomes = await Promise.all(
        matching.map(async ({ n, index }) => ({
          name: notificationName(n, index),
          ...(await deliver(n, index, event, webUiUrl, deadline)),
        })),
      );
      for (const o of outcomes) {
        const tags = { notification: o.name, event: event.event };
        if (o.ok) {
          result.delivered++;
          deps.metrics.notificationsDelivered.add(1, tags);
        } else {
          result.failed++;
          deps.metrics.notificationsFailed.add(1, tags);
          logger().warn(
            `notification ${o.name} of event ${event.event} for ${event.workflowId} could not be delivered after ${o.attempts} attempt(s): ${o.why}; the run goes on`,
            { notification: o.name, event: event.event, workflowId: event.workflowId, attempts: o.attempts },
          );
        }
      }
      return result;
    },
  };
  /** close() ends the webhook connection pool (the worker stopped); it is not an activity. */
  return { activities, close: () => agent.close() };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>['activities'];

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

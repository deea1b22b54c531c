/**
 * The worker's own Prometheus metrics. They are created on the Temporal runtime's metric meter, so the
 * one endpoint that serves Temporal's runtime metrics (worker slots, poll and schedule-to-start
 * latencies, workflow task failures...) serves ours too: no second HTTP server and no extra package.
 * Without a metrics exporter configured the meter is a no-op, so instrumentation then costs nothing.
 *
 * Names follow Prometheus conventions: counters end in `_total`, durations are in seconds. Temporal's
 * own metrics keep the SDK's names (`temporal_*`, durations in ms) so Temporal's dashboards work as is.
 * Labels are bounded: account names come from the worker config, never from a request.
 */
import type { MetricCounter, MetricHistogram, MetricMeter, MetricTags } from '@temporalio/common';

export const METRIC_NAMES = {
  /** Items whose deletion activity reached a final result, by account, provider and outcome. */
  outcomes: 'retention_item_outcomes_total',
  /**
   * Bytes of the deleted backups whose size the listing gave, by account and provider (issue 19);
   * backups without a size add nothing (their count is in `outcomes`).
   */
  bytesDeleted: 'retention_bytes_deleted_total',
  /** Deletion activities running in this worker now, by account and provider. */
  inFlight: 'retention_deletions_in_flight',
  /** Activity attempts after the first (Temporal retried them), by activity, account and provider. */
  retries: 'retention_activity_retries_total',
  /** Activity attempts that failed, by activity, account, provider, error type and whether retried. */
  attemptFailures: 'retention_activity_attempt_failures_total',
  /** Milliseconds the activity asked Temporal to wait before the next attempt (Retry-After, busy back-off). */
  throttleWaitMs: 'retention_throttle_wait_ms_total',
  /** HTTP 429 answers from providers, by account and provider. */
  throttled: 'retention_provider_throttled_total',
  /** Provider HTTP request latency (to response headers), by provider, method and status class. */
  requestDuration: 'retention_provider_request_duration_seconds',
  /** Duration of one deletion attempt (delete + polls), by provider and result. */
  attemptDuration: 'retention_deletion_attempt_duration_seconds',
  /** Notifications delivered (a 2xx answer), by notification (its name or index) and event. */
  notificationsDelivered: 'retention_notifications_delivered_total',
  /** Notifications given up on after their retries or deadline, by notification and event (never a URL). */
  notificationsFailed: 'retention_notifications_failed_total',
} as const;

/** Bucket bounds for our histograms (Runtime.install's `histogramBucketOverrides`). */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [METRIC_NAMES.requestDuration]: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  [METRIC_NAMES.attemptDuration]: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600],
};

/** An up-down counter where the SDK has one; else a gauge fed from our own per-tag-set totals. */
export interface UpDown {
  add(delta: number, tags: MetricTags): void;
}

export interface RetentionMetrics {
  outcomes: MetricCounter;
  bytesDeleted: MetricCounter;
  inFlight: UpDown;
  retries: MetricCounter;
  attemptFailures: MetricCounter;
  throttleWaitMs: MetricCounter;
  throttled: MetricCounter;
  requestDuration: MetricHistogram;
  attemptDuration: MetricHistogram;
  notificationsDelivered: MetricCounter;
  notificationsFailed: MetricCounter;
}

export function createRetentionMetrics(meter: MetricMeter): RetentionMetrics {
  const n = METRIC_NAMES;
  return {
    outcomes: meter.createCounter(n.outcomes, '', 'Items whose deletion reached a final result, by outcome'),
    bytesDeleted: meter.createCounter(
      n.bytesDeleted,
      '',
      'Bytes of deleted backups whose size the listing gave',
    ),
    inFlight: upDown(meter, n.inFlight, 'Deletion activities running in this worker'),
    retries: meter.createCounter(n.retries, '', 'Activity attempts after the first'),
    attemptFailures: meter.createCounter(n.attemptFailures, '', 'Failed activity attempts'),
    throttleWaitMs: meter.createCounter(
      n.throttleWaitMs,
      'ms',
      'Milliseconds the activity asked Temporal to wait before retrying (Retry-After or provider back-off)',
    ),
    throttled: meter.createCounter(n.throttled, '', 'HTTP 429 answers from providers'),
    requestDuration: meter.createHistogram(
      n.requestDuration,
      'float',
      's',
      'Provider HTTP request latency to response headers',
    ),
    attemptDuration: meter.createHistogram(
      n.attemptDuration,
      'float',
      's',
      'Duration of one deletion attempt',
    ),
    notificationsDelivered: meter.createCounter(n.notificationsDelivered, '', 'Notifications delivered'),
    notificationsFailed: meter.createCounter(
      n.notificationsFailed,
      '',
      'Notifications that could not be delivered within their retries and deadline',
    ),
  };
}

function upDown(meter: MetricMeter, name: string, description: string): UpDown {
  if (meter.createUpDownCounter) {
    const c = meter.createUpDownCounter(name, '', description);
    return { add: (delta, tags) => c.add(delta, tags) };
  }
  const gauge = meter.createGauge(name, 'int', '', description);
  const values = new Map<string, number>();
  return {
    add(delta, tags) {
      const key = JSON.stringify(Object.entries(tags).sort());
      const v = (values.get(key) ?? 0) + delta;
      values.set(key, v);
      gauge.set(v, tags);
    },
  };
}

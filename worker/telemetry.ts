/**
 * Process-wide telemetry of a worker process: the Temporal runtime's logger and its Prometheus endpoint.
 * `Runtime.install` may be called once per process, before the first connection, so only process
 * entries call installTelemetry (worker/main.ts); tests and the demo install their own runtime.
 *
 * Settings, flags first:
 *  - metrics: `--metrics-port N` (binds 0.0.0.0:N), `--metrics-address HOST:PORT`, or
 *    RETENTION_METRICS_ADDRESS (HOST:PORT, or just a port). Unset: no endpoint, metrics cost nothing.
 *    Served at http://HOST:PORT/metrics: Temporal's runtime metrics (`temporal_*`) and ours (`retention_*`).
 *  - logs: RETENTION_LOG_FORMAT=json writes one JSON object per line on stderr (`text`, the default,
 *    keeps the SDK's format); RETENTION_LOG_LEVEL (TRACE, DEBUG, INFO (default), WARN, ERROR).
 */
import {
  DefaultLogger,
  LogTimestamp,
  Runtime,
  type LogLevel,
  type LogMetadata,
  type Logger,
} from '@temporalio/worker';
import { ConfigError } from './config';
import { HISTOGRAM_BUCKETS } from './metrics';

export interface TelemetrySettings {
  /** HOST:PORT of the Prometheus endpoint; undefined = none. */
  metricsAddress?: string;
  logFormat: 'text' | 'json';
  logLevel: LogLevel;
}

const LEVELS: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** Reads the settings from CLI flags and the environment; a bad value names the flag and the fix. */
export function telemetrySettings(
  flags: { metricsPort?: string; metricsAddress?: string } = {},
  env: Record<string, string | undefined> = process.env,
): TelemetrySettings {
  let metricsAddress: string | undefined;
  if (flags.metricsPort !== undefined)
    metricsAddress = `0.0.0.0:${port(flags.metricsPort, '--metrics-port')}`;
  else if (flags.metricsAddress !== undefined)
    metricsAddress = address(flags.metricsAddress, '--metrics-address');
  else if (env.RETENTION_METRICS_ADDRESS)
    metricsAddress = address(env.RETENTION_METRICS_ADDRESS, 'RETENTION_METRICS_ADDRESS');

  const format = (env.RETENTION_LOG_FORMAT ?? 'text').toLowerCase();
  if (format !== 'text' && format !== 'json') {
    throw new ConfigError(
      `RETENTION_LOG_FORMAT: expected "json" or "text", got ${JSON.stringify(env.RETENTION_LOG_FORMAT)}`,
    );
  }
  const level = (env.RETENTION_LOG_LEVEL ?? 'INFO').toUpperCase() as LogLevel;
  if (!LEVELS.includes(level)) {
    throw new ConfigError(
      `RETENTION_LOG_LEVEL: expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(env.RETENTION_LOG_LEVEL)}`,
    );
  }
  return { ...(metricsAddress ? { metricsAddress } : {}), logFormat: format, logLevel: level };
}

function port(v: string, what: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < 1 || n > 65535)
    throw new ConfigError(`${what}: expected a port from 1 to 65535, got ${JSON.stringify(v)}`);
  return n;
}

function address(v: string, what: string): string {
  const s = v.trim();
  if (/^\d+$/.test(s)) return `0.0.0.0:${port(s, what)}`;
  const m = /^(.+):(\d+)$/.exec(s);
  if (!m)
    throw new ConfigError(
      `${what}: expected HOST:PORT (e.g. 0.0.0.0:9464) or a port, got ${JSON.stringify(v)}`,
    );
  return `${m[1]}:${port(m[2]!, what)}`;
}

/** Installs the Temporal runtime with our logger and, when asked, the Prometheus endpoint. Once per process. */
export function installTelemetry(settings: TelemetrySettings): Runtime {
  const logger: Logger =
    settings.logFormat === 'json' ? new JsonLogger(settings.logLevel) : new DefaultLogger(settings.logLevel);
  return Runtime.install({
    logger,
    telemetryOptions: {
      // Core's own lines (connection problems, poll errors) go through the same logger, so JSON mode is JSON throughout.
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(settings.metricsAddress
        ? {
            metrics: {
              prometheus: {
                bindAddress: settings.metricsAddress,
                histogramBucketOverrides: HISTOGRAM_BUCKETS,
              },
            },
          }
        : {}),
    },
  });
}

/** Keys whose values are never written, whatever puts them in log metadata (defence in depth). */
const SECRET_KEY = /pass(word)?|secret|token|authori[sz]ation|api[-_]?key|credential|cookie/i;

/** A Logger whose level methods all go through `log` (the SDK's Logger interface asks for both). */
export abstract class LevelLogger implements Logger {
  abstract log(level: LogLevel, message: string, meta?: LogMetadata): void;
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * One JSON object per line on stderr: time, level, msg, then the metadata the SDK and our interceptor
 * attach (workflowId, workflowRunId, activityType, attempt, account, provider, itemId, run...). Errors
 * become {type, message, stack}. Values under credential-like keys are replaced by "[redacted]".
 */
export class JsonLogger extends LevelLogger {
  private readonly min: number;

  constructor(
    level: LogLevel = 'INFO',
    private readonly write: (line: string) => void = (line) => void process.stderr.write(line),
  ) {
    super();
    this.min = LEVELS.indexOf(level);
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (LEVELS.indexOf(level) < this.min) return;
    const ts = meta?.[LogTimestamp] as bigint | undefined; // core's own lines carry their time in ns
    const time =
      ts !== undefined ? new Date(Number(ts / 1_000_000n)).toISOString() : new Date().toISOString();
    const record = { time, level: level.toLowerCase(), msg: message, ...meta };
    this.write(`${safeStringify(record)}\n`);
  }
}

export function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    if (key && SECRET_KEY.test(key) && v !== undefined && v !== null && v !== '') return '[redacted]';
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    if (v instanceof Error) {
      const e = v as Error & { type?: string; cause?: unknown };
      return {
        type: e.type ?? e.name,
        message: e.message,
        ...(e.cause ? { cause: e.cause } : {}),
        stack: e.stack,
      };
    }
    if (v && typeof v === 'object') {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return v;
  });
}

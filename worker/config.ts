/**
 * The worker's config file: accounts (provider, endpoint, credential references, limits) and where
 * secrets come from. Validated with zod; every error names the field and how to fix it. Secrets are
 * never written in the file itself: a credential is a reference to an environment variable, a file,
 * or a key of the secrets file.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { CSBS_MAX_CONCURRENT_DELETIONS } from '../activities/providers/csbs';
import { PROVIDERS, type AccountLimits, type ProviderKind } from '../contract/model';
import { RUN_EVENT_NAMES } from '../contract/notifications';
import { accountNameSchema } from '../contract/request';
import { describeZodIssues } from '../contract/validation';
import { SecretsFile } from './secrets-file';
import { durationMs as parseDurationMs } from '../contract/duration';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Config durations: "500ms" to "2h" (contract/duration.ts). */
const CONFIG_UNITS = ['ms', 's', 'm', 'h'] as const;

const durationSchema = z.union([
  z.number().int().positive({ message: 'expected a duration above zero, like "500ms", "5s" or 5000 (ms)' }),
  z
    .string()
    .refine((v) => !Number.isNaN(durationMs(v)), {
      message: 'expected a duration like "500ms", "5s", "10m" or "2h"',
    })
    // "0s" (or "0.0001s", which rounds to 0 ms) would make every wait, timeout or backoff instant.
    .refine((v) => !(durationMs(v) <= 0), {
      message: 'expected a duration above zero, like "500ms" or "5s"',
    }),
]);

/** Milliseconds of a config duration; NaN for one the schema refuses (so checks across fields skip it). */
export function durationMs(v: number | string): number {
  return typeof v === 'number' ? v : parseDurationMs(v, CONFIG_UNITS);
}

/** A secret is never inline: it names where to read it from. */
const secretRefSchema = z.union(
  [
    z.object({ env: z.string().min(1) }).strict(),
    z.object({ file: z.string().min(1) }).strict(),
    z.object({ secret: z.string().min(1) }).strict(),
  ],
  {
    error:
      'expected a reference like {"env": "VAR"}, {"file": "/path"} or {"secret": "key-in-secrets-file"}, never the secret itself',
  },
);
export type SecretRef = z.infer<typeof secretRefSchema>;

/**
 * The failure circuit breaker (workflows/circuit-breaker.ts). Off unless `limits.circuitBreaker` is
 * given; `circuitBreaker: {}` turns it on with the values below (half of the last 20 completed
 * deletions failed → pause the account for 5 minutes, then one probe item).
 */
const circuitBreakerSchema = z
  .object({
    failureRate: z
      .number()
      .gt(0, { message: 'expected a fraction above 0 and at most 1, e.g. 0.5' })
      .max(1, { message: 'expected a fraction above 0 and at most 1, e.g. 0.5' })
      .default(0.5),
    window: z
      .number()
      .int({ message: 'expected a whole number of deletions, at least 1' })
      .min(1, { message: 'expected a whole number of deletions, at least 1' })
      .max(10_000)
      .default(20),
    coolDown: durationSchema.default('5m'),
    minFailures: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.minFailures !== undefined && v.minFailures > v.window)
      ctx.addIssue({
        code: 'custom',
        path: ['minFailures'],
        message: `must not exceed window (${v.window}): the window never holds more failures than that`,
      });
  });

const limitsSchema = z
  .object({
    maxConcurrent: z.number().int().min(1).max(1000).default(5),
    requestsPerSecond: z.number().positive().max(10_000).default(10),
    pollInterval: durationSchema.default('5s'),
    deletionDeadline: durationSchema.default('45m'),
    maxAttempts: z.number().int().min(1).max(100).default(10),
    retryInitialInterval: durationSchema.default('1s'),
    retryMaxInterval: durationSchema.default('60s'),
    requestTimeout: durationSchema.default('30s'),
    circuitBreaker: circuitBreakerSchema.optional(),
    /** A ceiling no request can raise: a run that would delete more of this account stops first. */
    maxDeletionsPerRun: z
      .number()
      .int({ message: 'expected a whole number of deletions, at least 1' })
      .min(1, { message: 'expected a whole number of deletions, at least 1' })
      .optional(),
  })
  .strict()
  // Values that each look fine but together break every deletion.
  .superRefine((l, ctx) => {
    const ms = (v: string | number) => durationMs(v); // NaN (never compared true) when v itself is refused
    if (ms(l.retryInitialInterval) > ms(l.retryMaxInterval))
      ctx.addIssue({
        code: 'custom',
        path: ['retryInitialInterval'],
        message: `must not exceed retryMaxInterval (${String(l.retryMaxInterval)}): the backoff starts at the first and is capped by the second`,
      });
    if (ms(l.deletionDeadline) < ms(l.pollInterval))
      ctx.addIssue({
        code: 'custom',
        path: ['deletionDeadline'],
        message: `must be at least one pollInterval (${String(l.pollInterval)}): every deletion would end failed before its first poll`,
      });
    if (ms(l.deletionDeadline) < ms(l.requestTimeout))
      ctx.addIssue({
        code: 'custom',
        path: ['deletionDeadline'],
        message: `must be at least one requestTimeout (${String(l.requestTimeout)}): a single slow answer would outlast the whole deletion`,
      });
  });

/**
 * Every executed run that would delete on this account waits for a person to approve its plan,
 * whatever the request says (README, "Approving deletions").
 */
const requireApprovalSchema = z
  .boolean({ error: 'expected true (runs that delete on this account wait for approval) or false' })
  .optional();

const tlsSchema = z
  .object({ caFile: z.string().optional(), insecureSkipVerify: z.boolean().optional() })
  .strict();

/**
 * A Huawei account's IAM endpoint is verified even when `tls.insecureSkipVerify` turns verification of
 * the service endpoint off: the password crosses that connection. Only this block, spelled out, turns
 * it off for IAM too.
 */
const iamTlsSchema = z.object({ insecureSkipVerify: z.boolean().optional() }).strict();

const urlSchema = z.url({ message: 'expected an absolute URL like "https://host:port"' });

const huaweiAccount = {
  endpoint: urlSchema,
  iamEndpoint: urlSchema,
  projectId: z.string().min(1),
  /** The IAM project name (usually the region, e.g. "ap-southeast-1") used for token scope. */
  projectName: z.string().min(1).optional(),
  domain: z.string().min(1),
  credentials: z.object({ username: secretRefSchema, password: secretRefSchema }).strict(),
  iamTls: iamTlsSchema.optional(),
};

const accountSchema = z.discriminatedUnion(
  'provider',
  [
    z
      .object({
        provider: z.literal('jsa'),
        endpoint: urlSchema,
        credentials: z.union([
          z.object({ token: secretRefSchema }).strict(),
          z.object({ username: secretRefSchema, password: secretRefSchema }).strict(),
        ]),
        tls: tlsSchema.optional(),
        limits: limitsSchema.default(limitsSchema.parse({})),
        requireApproval: requireApprovalSchema,
      })
      .strict(),
    z
      .object({
        provider: z.literal('csbs'),
        ...huaweiAccount,
        tls: tlsSchema.optional(),
        limits: limitsSchema.default(limitsSchema.parse({})),
        requireApproval: requireApprovalSchema,
      })
      .strict()
      .superRefine((a, ctx) => {
        if (a.limits.maxConcurrent > CSBS_MAX_CONCURRENT_DELETIONS)
          ctx.addIssue({
            code: 'custom',
            path: ['limits', 'maxConcurrent'],
            message: `at most ${CSBS_MAX_CONCURRENT_DELETIONS} for CSBS: it runs at most ${CSBS_MAX_CONCURRENT_DELETIONS} deletion tasks per user and queues the rest, where they run out their deadlines`,
          });
      }),
    z
      .object({
        provider: z.literal('vbs'),
        ...huaweiAccount,
        tls: tlsSchema.optional(),
        limits: limitsSchema.default(limitsSchema.parse({})),
        requireApproval: requireApprovalSchema,
      })
      .strict(),
    z
      .object({
        provider: z.literal('taurusdb'),
        ...huaweiAccount,
        tls: tlsSchema.optional(),
        limits: limitsSchema.default(limitsSchema.parse({})),
        requireApproval: requireApprovalSchema,
      })
      .strict(),
    z
      .object({
        provider: z.literal('veeam'),
        endpoint: urlSchema,
        credentials: z.object({ username: secretRefSchema, password: secretRefSchema }).strict(),
        tls: tlsSchema.optional(),
        limits: limitsSchema.default(limitsSchema.parse({})),
        requireApproval: requireApprovalSchema,
      })
      .strict(),
  ],
  { error: `expected "provider" to be one of ${PROVIDERS.join(', ')}` },
);

/**
 * Where run events go (docs/operations.md, "Notifications"). The URL is a literal http(s) URL or a
 * credential reference: an incoming-webhook URL usually holds its own secret (Slack's does), so it is
 * resolved only in the worker, when a notification is sent, and never logged.
 */
const notificationSchema = z
  .object({
    /** Names the notification in logs and metrics (default: its index, "notifications[0]"). */
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, {
        message: 'expected a short name of letters, digits, ".", "_" or "-" (it labels logs and metrics)',
      })
      .optional(),
    url: z.union(
      [
        z.url({
          protocol: /^https?$/,
          hostname: z.regexes.hostname,
          message:
            'expected an absolute http(s) URL like "https://hooks.example.com/..." (or a reference like {"env": "VAR"} when the URL holds a secret)',
        }),
        z.object({ env: z.string().min(1) }).strict(),
        z.object({ file: z.string().min(1) }).strict(),
        z.object({ secret: z.string().min(1) }).strict(),
      ],
      {
        error:
          'expected an http(s) URL like "https://hooks.example.com/..." or, for a URL that holds a secret, a reference like {"env": "VAR"}, {"file": "/path"} or {"secret": "key-in-secrets-file"}',
      },
    ),
    events: z
      .array(
        z.enum(RUN_EVENT_NAMES, {
          error: `expected one of ${RUN_EVENT_NAMES.map((e) => `"${e}"`).join(', ')}`,
        }),
      )
      .min(1, { message: `list at least one of ${RUN_EVENT_NAMES.join(', ')}` }),
    format: z
      .enum(['json', 'slack'], {
        error: 'expected "json" (the default) or "slack" (an incoming-webhook message)',
      })
      .default('json'),
  })
  .strict();

export const workerConfigSchema = z
  .object({
    /** Optional YAML/JSON file of `key: secret` pairs for {"secret": "key"} references. */
    secretsFile: z.string().optional(),
    taskQueue: z.string().min(1).default('retention-cleanup'),
    accounts: z.record(accountNameSchema, accountSchema).refine((a) => Object.keys(a).length > 0, {
      message: 'define at least one account',
    }),
    notifications: z.array(notificationSchema).default([]),
    /** The Temporal Web UI's address, for the links in notifications (the dev server's by default). */
    webUiUrl: z
      .url({
        protocol: /^https?$/,
        message: 'expected the Web UI address, like "https://temporal.example.com"',
      })
      .default('http://localhost:8233'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.notifications.forEach((n, i) => {
      if (n.name === undefined) return;
      if (seen.has(n.name))
        ctx.addIssue({
          code: 'custom',
          path: ['notifications', i, 'name'],
          message: `"${n.name}" is used twice; give each notification its own name`,
        });
      seen.add(n.name);
    });
  });

export type WorkerConfig = z.output<typeof workerConfigSchema>;
export type AccountConfig = WorkerConfig['accounts'][string];
export type NotificationConfig = WorkerConfig['notifications'][number];
export type HuaweiAccountConfig = Extract<AccountConfig, { provider: 'csbs' | 'vbs' | 'taurusdb' }>;

/**
 * The named account, or undefined when the config does not define it. Names come from requests, so
 * never a plain property read: "constructor" or "toString" would find Object.prototype's members.
 */
export function accountOf(config: WorkerConfig, name: string): AccountConfig | undefined {
  return Object.hasOwn(config.accounts, name) ? config.accounts[name] : undefined;
}

export interface LoadedConfig {
  config: WorkerConfig;
  /**
   * Resolves a secret reference at call time; never logged. Environment variables and `{file}`
   * references are read at each call, the secrets file whenever it changed (worker/secrets-file.ts),
   * so rotated secrets are used from the next login on.
   */
  secret(ref: SecretRef): string;
}

export interface ParseOptions {
  /** Where a warning about the secrets file goes (default: the activity's logger, else process warnings). */
  warn?: (message: string) => void;
}

export function parseWorkerConfig(
  raw: unknown,
  source = 'config',
  baseDir = process.cwd(),
  opts: ParseOptions = {},
): LoadedConfig {
  const parsed = workerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${source}: ${describeZodIssues(parsed.error).join('; ')}`);
  }
  const config = parsed.data;
  // A CA file is read by path like credential files: relative to the config file, and checked now, so a
  // typo is a config error at start rather than a failed deletion later.
  for (const [name, account] of Object.entries(config.accounts)) {
    if (!account.tls?.caFile) continue;
    account.tls.caFile = resolve(baseDir, account.tls.caFile);
    try {
      readFileSync(account.tls.caFile);
    } catch (err) {
      const why = (err as { code?: string }).code ?? String(err);
      throw new ConfigError(
        `${source}: accounts.${name}.tls.caFile: cannot read ${account.tls.caFile} (${why}); give the path of a PEM file with the CA certificate(s)`,
      );
    }
  }
  const secretsFile = config.secretsFile
    ? new SecretsFile(resolve(baseDir, config.secretsFile), opts.warn)
    : undefined;
  const secret = (ref: SecretRef): string => {
    if ('env' in ref) {
      const v = process.env[ref.env];
      if (!v) throw new ConfigError(`environment variable ${ref.env} is not set (referenced by ${source})`);
      return v;
    }
    if ('file' in ref) return readFileSync(resolve(baseDir, ref.file), 'utf8').trim();
    if (!secretsFile)
      throw new ConfigError(`${source}: {"secret": "${ref.secret}"} needs "secretsFile" in the config`);
    return secretsFile.get(ref.secret);
  };
  return { config, secret };
}

export function loadWorkerConfig(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  return parseWorkerConfig(raw, path, dirname(resolve(path)));
}

/** The non-secret view of an account that workflows may carry. */
export function accountLimits(name: string, account: AccountConfig): AccountLimits {
  const l = account.limits;
  return {
    name,
    provider: account.provider as ProviderKind,
    maxConcurrent: l.maxConcurrent,
    requestsPerSecond: l.requestsPerSecond,
    pollIntervalMs: durationMs(l.pollInterval),
    deletionDeadlineMs: durationMs(l.deletionDeadline),
    maxAttempts: l.maxAttempts,
    retryInitialIntervalMs: durationMs(l.retryInitialInterval),
    retryMaxIntervalMs: durationMs(l.retryMaxInterval),
    // Only when configured, like the breaker below: other accounts' lanes see the input they saw before.
    ...(l.maxDeletionsPerRun !== undefined ? { maxDeletionsPerRun: l.maxDeletionsPerRun } : {}),
    // Only when set: other accounts' lanes see the input they saw before.
    ...(account.requireApproval ? { requireApproval: true as const } : {}),
    // Only when configured: lanes of accounts without a breaker get exactly the input they got before.
    ...(l.circuitBreaker
      ? {
          circuitBreaker: {
            failureRate: l.circuitBreaker.failureRate,
            window: l.circuitBreaker.window,
            coolDownMs: durationMs(l.circuitBreaker.coolDown),
            ...(l.circuitBreaker.minFailures !== undefined
              ? { minFailures: l.circuitBreaker.minFailures }
              : {}),
          },
        }
      : {}),
  };
}

/**
 * The Temporal connection of every command that talks to Temporal: Temporal's own conventions
 * (client/connection.ts) or the flags below, and the one message for "cannot reach Temporal" (exit 3).
 */
import { temporalSettings } from '../connection';
import { errorMessage, RetentionClient } from '../retention-client';
import { durationOption, optionsHelp } from './command';
import { EXIT, UnreachableError } from './errors';
import { say } from './io';

const CONNECTION = `connection (defaults from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE and the Temporal profile file; else localhost:7233, "default"):`;

/** Spread into a command's options: `options: { ...CONNECTION_OPTIONS, json: ... }`. */
export const CONNECTION_OPTIONS = {
  address: { type: 'string', value: 'HOST:PORT', help: 'Temporal frontend address', section: CONNECTION },
  namespace: { type: 'string', value: 'NS', help: 'Temporal namespace', section: CONNECTION },
  'connect-timeout': {
    type: 'string',
    value: 'DUR',
    help: 'give up connecting after DUR (default 10s)',
    section: CONNECTION,
  },
} as const;

/** The connection options under their heading, for the main help. */
export const CONNECTION_HELP = optionsHelp(CONNECTION_OPTIONS);

export interface ConnectionValues {
  address?: string;
  namespace?: string;
  'connect-timeout'?: string;
}

async function connect(values: ConnectionValues, taskQueue?: string): Promise<RetentionClient> {
  const connectTimeout = durationOption('connect-timeout', values['connect-timeout']);
  const s = temporalSettings({ address: values.address, namespace: values.namespace });
  try {
    return await RetentionClient.connect({
      address: values.address,
      namespace: values.namespace,
      taskQueue,
      ...(connectTimeout !== undefined ? { connectTimeout } : {}),
    });
  } catch (err) {
    throw new UnreachableError(
      `cannot reach Temporal at ${s.address} (namespace "${s.namespace}"): ${errorMessage(err)}\n` +
        'Set TEMPORAL_ADDRESS or --address (and TEMPORAL_API_KEY / TLS settings for Temporal Cloud).',
    );
  }
}

/** Connects, runs `fn`, and closes the connection whatever happens. */
export async function withClient<T>(
  values: ConnectionValues,
  taskQueue: string | undefined,
  fn: (rc: RetentionClient) => Promise<T>,
): Promise<T> {
  const rc = await connect(values, taskQueue);
  try {
    return await fn(rc);
  } finally {
    await rc.close().catch(() => undefined);
  }
}

/** Connects, takes one action, and says what it did (stderr): exit 0. Errors are thrown as usual. */
export async function act(
  values: ConnectionValues,
  action: (rc: RetentionClient) => Promise<string>,
): Promise<number> {
  return withClient(values, undefined, async (rc) => {
    say(await action(rc));
    return EXIT.OK;
  });
}

/**
 * Temporal connection settings from Temporal's own conventions (`@temporalio/envconfig`):
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* files, TEMPORAL_PROFILE and
 * the profile file (~/.config/temporalio/temporal.toml). Shared by the client, CLI and worker.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';

export interface TemporalSettings {
  address: string;
  namespace: string;
  /** Passed straight to Connection.connect / NativeConnection.connect. */
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

/** `env` defaults to the process environment (tests pass their own). */
export function temporalSettings(
  overrides: { address?: string; namespace?: string } = {},
  env: Record<string, string | undefined> = process.env,
): TemporalSettings {
  const overrideEnvVars = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const cfg = loadClientConnectConfig({ profile: env.TEMPORAL_PROFILE, overrideEnvVars });
  const address = overrides.address ?? cfg.connectionOptions.address ?? 'localhost:7233';
  return {
    address,
    namespace: overrides.namespace ?? cfg.namespace ?? 'default',
    connectionOptions: { ...cfg.connectionOptions, address },
  };
}

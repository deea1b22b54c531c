/**
 * The baseline the benchmark compares the durable run with: a plain, non-durable script that deletes
 * the same items through the same adapters (activities/providers/registry.ts) over the same simulator,
 * under the same per-account limits (maxConcurrent deletions in progress, requestsPerSecond delete
 * calls, the same jittered poll interval, the first poll one interval after the delete). One async pool
 * per account; no Temporal, no persistence, no recovery: what "just a script" would do.
 */
import type { ProviderError } from '../activities/provider-error';
import { isProviderError } from '../activities/provider-error';
import type { ProviderAdapter } from '../activities/providers/adapter';
import { AdapterRegistry } from '../activities/providers/registry';
import { accountLimits, type LoadedConfig } from '../worker/config';
import { emptyCounts, type ItemRef, type OutcomeCounts, type OutcomeKind } from '../contract/model';

export interface PlainResult {
  makespanMs: number;
  counts: OutcomeCounts;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** ±20%, as the deletion activity does. */
const jitter = (ms: number) => Math.max(1, Math.round(ms * (0.8 + Math.random() * 0.4)));

export async function runPlainScript(loaded: LoadedConfig, items: ItemRef[]): Promise<PlainResult> {
  const registry = new AdapterRegistry(loaded);
  const byAccount = new Map<string, ItemRef[]>();
  for (const item of items) {
    const list = byAccount.get(item.account) ?? [];
    list.push(item);
    byAccount.set(item.account, list);
  }
  const counts = emptyCounts();
  const started = performance.now();
  try {
    await Promise.all(
      [...byAccount].map(async ([account, queue]) => {
        const limits = accountLimits(account, loaded.config.accounts[account]!);
        const adapter = registry.get(account);
        const gate = rateGate(limits.requestsPerSecond);
        const worker = async () => {
          for (let item = queue.shift(); item; item = queue.shift()) {
            counts[await deleteOne(adapter, item, limits.pollIntervalMs, limits.maxAttempts, gate)]++;
          }
        };
        await Promise.all(Array.from({ length: limits.maxConcurrent }, worker));
      }),
    );
    return { makespanMs: performance.now() - started, counts };
  } finally {
    await registry.close();
  }
}

/** A sliding window of delete calls, like the lane's: at most `rps` starts in any one-second window. */
function rateGate(rps: number): () => Promise<void> {
  const burst = Math.max(1, Math.floor(rps));
  const windowMs = (burst / rps) * 1000;
  const starts: number[] = [];
  return async () => {
    for (;;) {
      const now = performance.now();
      while (starts.length && starts[0]! <= now - windowMs) starts.shift();
      if (starts.length < burst) {
        starts.push(now);
        return;
      }
      await sleep(starts[0]! + windowMs - now);
    }
  };
}

async function deleteOne(
  adapter: ProviderAdapter,
  item: ItemRef,
  pollMs: number,
  maxAttempts: number,
  gate: () => Promise<void>,
): Promise<OutcomeKind> {
  const call = {};
  for (let attempt = 1; ; attempt++) {
    try {
      await gate();
      await adapter.requestDeletion(item, call);
      break;
    } catch (err) {
      if (!isProviderError(err)) throw err;
      if (err.kind === 'not-found') return 'absent';
      if (err.kind === 'blocked') return 'blocked';
      if (err.kind === 'in-progress') break;
      if (!retryable(err) || attempt >= maxAttempts) return 'failed';
      await sleep(err.info.retryAfterMs ?? 1000);
    }
  }
  for (;;) {
    await sleep(jitter(pollMs));
    try {
      const seen = await adapter.observeDeletion(item, {}, call);
      if (seen.state === 'gone') return 'deleted';
      if (seen.state === 'failed') return 'failed';
      if (seen.state === 'blocked') return 'blocked';
    } catch (err) {
      if (!isProviderError(err)) throw err;
      if (err.kind === 'not-found') return 'deleted';
      if (!retryable(err)) return 'failed';
    }
  }
}

function retryable(err: ProviderError): boolean {
  return err.kind === 'transient' || err.kind === 'busy';
}

/**
 * What a plain script needs to list the accounts (all in parallel, page after page, same adapters):
 * the part of a policy run's lower bound that comes before any deletion can be chosen.
 */
export async function listPlain(
  loaded: LoadedConfig,
  accounts: string[],
): Promise<{ ms: number; listed: number }> {
  const registry = new AdapterRegistry(loaded);
  const started = performance.now();
  let listed = 0;
  try {
    await Promise.all(
      accounts.map(async (account) => {
        const adapter = registry.get(account);
        let cursor: string | undefined;
        do {
          const page = await adapter.listBackups(cursor, {});
          listed += page.records.length;
          cursor = page.next;
        } while (cursor);
      }),
    );
    return { ms: performance.now() - started, listed };
  } finally {
    await registry.close();
  }
}

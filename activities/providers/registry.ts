/**
 * Builds one adapter per configured account, lazily, and keeps it (with its HTTP pool and token
 * cache) for the life of the worker process.
 */
import type { AccountConfig, LoadedConfig } from '../../worker/config';
import { accountOf, durationMs } from '../../worker/config';
import { HttpClient } from '../http';
import { ProviderError } from '../provider-error';
import type { AdapterFactory, ProviderAdapter } from './adapter';
import { vbsAdapterFactory } from './vbs';
import { csbsAdapterFactory } from './csbs';
import { taurusDbAdapterFactory } from './taurusdb';
import { createJsaAdapter } from './jsa';
import { createVeeamAdapter } from './veeam';
import { FAILURE } from '../../contract/failure-types';

const factories: Record<AccountConfig['provider'], AdapterFactory> = {
  csbs: csbsAdapterFactory,
  taurusdb: taurusDbAdapterFactory,
  jsa: createJsaAdapter,
  veeam: createVeeamAdapter,
  vbs: vbsAdapterFactory,
};

export class AdapterRegistry {
  private readonly adapters = new Map<string, ProviderAdapter>();
  private readonly clients: HttpClient[] = [];

  constructor(private readonly loaded: LoadedConfig) {}

  get(accountName: string): ProviderAdapter {
    let adapter = this.adapters.get(accountName);
    if (adapter) return adapter;
    const account = accountOf(this.loaded.config, accountName);
    if (!account) {
      throw new ProviderError('rejected', `account "${accountName}" is not in this worker's config`, {
        code: FAILURE.UnknownAccount,
      });
    }
    const factory = factories[account.provider];
    if (!factory) throw new ProviderError('rejected', `provider "${account.provider}" has no adapter yet`);
    const http = new HttpClient({
      timeoutMs: durationMs(account.limits.requestTimeout),
      tls: account.tls,
      connections: Math.max(8, account.limits.maxConcurrent * 2),
    });
    this.clients.push(http);
    adapter = factory(accountName, account, this.loaded, http);
    this.adapters.set(accountName, adapter);
    return adapter;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

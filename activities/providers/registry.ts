/**
 * Builds one adapter per configured account, lazily, and keeps it (with its HTTP pool and token
 * cache) for the life of the worker process.
 */
import type { AccountConfig, LoadedConfig } from '../../worker/config';
import { durationMs } from '../../worker/config';
import { HttpClient } from '../http';
import { ProviderError } from '../provider-error';
import type { ProviderAdapter } from './adapter';
import { HuaweiSession } from './huawei';
import { VbsAdapter } from './vbs';

export type AdapterFactory = (name: string, account: AccountConfig, loaded: LoadedConfig, http: HttpClient) => ProviderAdapter;

const factories: Partial<Record<AccountConfig['provider'], AdapterFactory>> = {
  vbs: (name, account, loaded, http) => {
    const a = account as Extract<AccountConfig, { provider: 'vbs' }>;
    const session = new HuaweiSession(http, a, () => ({
      username: loaded.secret(a.credentials.username),
      password: loaded.secret(a.credentials.password),
    }));
    return new VbsAdapter(name, a, session);
  },
};

export function registerAdapterFactory(provider: AccountConfig['provider'], factory: AdapterFactory): void {
  factories[provider] = factory;
}

export class AdapterRegistry {
  private readonly adapters = new Map<string, ProviderAdapter>();
  private readonly clients: HttpClient[] = [];

  constructor(private readonly loaded: LoadedConfig) {}

  get(accountName: string): ProviderAdapter {
    let adapter = this.adapters.get(accountName);
    if (adapter) return adapter;
    const account = this.loaded.config.accounts[accountName];
    if (!account) {
      throw new ProviderError('rejected', `account "${accountName}" is not in this worker's config`, { code: 'UnknownAccount' });
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

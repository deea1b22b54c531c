/**
 * What the provider contract tests (csbs, jsa, taurusdb, vbs, veeam) and the transport tests share:
 * an adapter built the way the worker's registry builds it, the error a call must fail with, an
 * observation loop to a deletion's end, and hand-made HTTP answers for the adapters' parsers.
 */
import assert from 'node:assert/strict';
import { HttpClient, type HttpResponse } from '../../activities/http';
import { ProviderError } from '../../activities/provider-error';
import type {
  AdapterFactory,
  DeletionHandle,
  Observation,
  ProviderAdapter,
} from '../../activities/providers/adapter';
import type { ItemRef } from '../../contract/model';
import { parseWorkerConfig } from '../../worker/config';
import { configFor } from './stack';

/**
 * An adapter for a Huawei account (`provider` in `project` of the simulator at `simUrl`), as the
 * worker builds it; `endpointSuffix` plays a wrong endpoint. Its HTTP client joins `clients` (closed by
 * the test).
 */
export function huaweiAdapterFor<A extends ProviderAdapter>(
  simUrl: string,
  provider: 'csbs' | 'taurusdb' | 'vbs',
  factory: AdapterFactory,
  clients: HttpClient[],
  project: string,
  endpointSuffix = '',
): A {
  const raw = configFor(simUrl, { acc: { provider, scope: project } }, (n) => n);
  const acc = raw.accounts.acc as Record<string, unknown>;
  acc.endpoint = `${String(acc.endpoint)}${endpointSuffix}`;
  const loaded = parseWorkerConfig(raw, 'test');
  const http = new HttpClient({ timeoutMs: 5_000 });
  clients.push(http);
  return factory('acc', loaded.config.accounts.acc!, loaded, http) as A;
}

/** The error `p` must fail with. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e as Error,
  );
}

/** The ProviderError `p` must fail with. */
export async function providerRejection(p: Promise<unknown>): Promise<ProviderError> {
  const err = await rejection(p);
  assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
  return err;
}

/** Observes until a terminal observation (at most 200 looks); returns every observation seen. */
export async function observeToEnd(
  adapter: ProviderAdapter,
  item: ItemRef,
  handle: DeletionHandle,
  everyMs = 50,
): Promise<Observation[]> {
  const seen: Observation[] = [];
  for (let i = 0; i < 200; i++) {
    const o = await adapter.observeDeletion(item, handle, {});
    seen.push(o);
    if (o.state !== 'pending') return seen;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return assert.fail(`deletion of ${item.id} never finished: ${JSON.stringify(seen.at(-1))}`);
}

/** A hand-made HTTP answer (a JSON body, or text as is). */
export function fakeResponse(
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    status,
    headers,
    body,
    text: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
  };
}

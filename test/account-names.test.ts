/**
 * Account names come from requests, so every lookup by name on the worker side (resolveAccounts, the
 * adapter registry) finds only what the worker config defines: "constructor", "toString",
 * "hasOwnProperty" and "__proto__" exist on every plain JavaScript object and must not be found
 * unless configured. (The run workflow's own lookups are covered where it is tested.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { createActivities } from '../activities';
import { isProviderError } from '../activities/provider-error';
import { AdapterRegistry } from '../activities/providers/registry';
import { Simulator } from '../simulator/server';
import { parseWorkerConfig, type LoadedConfig } from '../worker/config';
import { configFor, TEST_CREDENTIAL_ENV, vbsBackups } from './helpers/stack';

const OBJECT_NAMES = ['constructor', 'toString', 'hasOwnProperty', '__proto__'];

describe('lookups keyed by account name', () => {
  const sim = new Simulator();
  const registries: AdapterRegistry[] = [];

  function setup(names: string[]): {
    loaded: LoadedConfig;
    registry: AdapterRegistry;
    activities: ReturnType<typeof createActivities>;
  } {
    const loaded = parseWorkerConfig(
      configFor(
        sim.url,
        Object.fromEntries(names.map((n) => [n, { provider: 'vbs' as const, scope: 'proj' }])),
        (n) => n,
      ),
      'test config',
    );
    const registry = new AdapterRegistry(loaded);
    registries.push(registry);
    const activities = createActivities({
      loaded,
      adapters: registry,
      client: {} as Client,
      taskQueue: 'unused',
    });
    return { loaded, registry, activities };
  }

  before(async () => {
    Object.assign(process.env, TEST_CREDENTIAL_ENV);
    await sim.start();
    sim.seed('vbs', 'proj', vbsBackups(3, 'named'));
  });
  after(async () => {
    await Promise.all(registries.map((r) => r.close()));
    await sim.stop();
  });

  test('an account called "constructor" is found when the config defines it', async () => {
    const { activities, registry } = setup(['constructor', 'other']);
    const limits = await activities.resolveAccounts({ names: ['constructor'] });
    const [[key, c]] = Object.entries(limits) as [[string, (typeof limits)[string]]];
    assert.equal(key, 'constructor');
    assert.equal(c.name, 'constructor');
    assert.equal(c.provider, 'vbs');
    assert.equal(c.maxConcurrent, 20, 'the configured limits, not Object');
    // And its adapter is the configured VBS account (a real list call over HTTP).
    const page = await registry.get('constructor').listBackups(undefined, {});
    assert.equal(page.records.length, 3);
    assert.equal(page.records[0]!.account, 'constructor');
  });

  test('names of Object.prototype members are unknown when not configured, naming the known accounts', async () => {
    const { activities, registry } = setup(['vbs-a', 'vbs-b']);
    await assert.rejects(activities.resolveAccounts({ names: OBJECT_NAMES }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'UnknownAccount');
      assert.equal(err.nonRetryable, true);
      assert.equal(
        err.message,
        'unknown account(s) "constructor", "toString", "hasOwnProperty", "__proto__": the worker config defines "vbs-a", "vbs-b"',
      );
      return true;
    });
    for (const name of OBJECT_NAMES) {
      assert.throws(
        () => registry.get(name),
        (err: unknown) => isProviderError(err) && err.info.code === 'UnknownAccount',
        name,
      );
    }
  });
});

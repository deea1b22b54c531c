/**
 * README "Guarantees": Guards hold on every run — a policy run deletes exactly the plan that passed
 * the guards. A retried planAccount attempt plans again from a fresh listing; when pages of the first
 * plan already reached the run (heartbeat details: its hash and how many pages went out) and the new
 * plan differs, it must stop with PlanChanged instead of emitting a second, unchecked plan after part
 * of the first. Planted bug `plan-once-hash-unchecked` (test/mutants/list.ts) removes that check.
 *
 * The activity runs in a MockActivityEnvironment (its heartbeat details are what a retried attempt
 * finds), against the VBS simulator over HTTP and the real Temporal dev server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { planAccountWith, type PlanAccountInput, type PlanAccountResult } from '../activities/discover';
import { AdapterRegistry } from '../activities/providers/registry';
import { accountLimits, accountOf } from '../worker/config';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

describe('plan once: a retried discovery never emits a plan that differs from what it started handing over', () => {
  let stack: Stack;
  let registry: AdapterRegistry;
  before(async () => {
    stack = await startStack({ plan: { provider: 'vbs' } }, { worker: false });
    registry = new AdapterRegistry(stack.loaded);
    // 30 backups on 10 volumes (3 each): keepLast 2 plans 10 deletions.
    stack.sim.seed('vbs', stack.scope('plan'), vbsBackups(30, 'plan'));
  });
  after(async () => {
    await registry?.close();
    await stack?.stop();
  });

  const input = (runWorkflowId: string): PlanAccountInput => {
    const name = stack.account('plan');
    return {
      runWorkflowId,
      limits: accountLimits(name, accountOf(stack.loaded.config, name)!),
      policy: { rules: { keepLast: 2 } },
      now: new Date(Date.UTC(2026, 6, 1)).toISOString(),
      dryRun: false,
    };
  };

  test('a retry whose listing changed after a page went out fails PlanChanged, sending no page', async () => {
    const adapter = registry.get(stack.account('plan'));
    // What the first attempt recorded: one page of a plan whose hash this listing does not give.
    const retried = new MockActivityEnvironment({
      attempt: 2,
      heartbeatDetails: { planHash: 'f'.repeat(64), emittedPages: 1 },
    });
    // A run that does not exist: a page sent to it would fail differently (not PlanChanged).
    const err = await retried
      .run(planAccountWith, adapter, stack.client, input(`plan-once-no-such-run-${Date.now()}`))
      .then(
        () => assert.fail('the retried attempt must not emit'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'PlanChanged', err.message);
    assert.equal(err.nonRetryable, true, 'retrying cannot make the plans the same');
    assert.match(err.message, /listing changed .*after 1 pages.*nothing was deleted/);
  });

  test('a retry that finds the same plan resumes after the pages that went out', async () => {
    const adapter = registry.get(stack.account('plan'));
    const hash = await samePlanHash(adapter);
    const resumed = (await new MockActivityEnvironment({
      attempt: 2,
      heartbeatDetails: { planHash: hash, emittedPages: 1 },
    }).run(
      planAccountWith,
      adapter,
      stack.client,
      input(`plan-once-no-such-run-${Date.now()}`),
    )) as PlanAccountResult;
    assert.equal(resumed.planHash, hash);
    assert.equal(resumed.emitted, 10, 'the resumed attempt reports the whole plan (one page, already out)');
  });

  /** The hash of the current plan: a resume with every page out returns it without sending anything. */
  async function samePlanHash(adapter: ReturnType<AdapterRegistry['get']>): Promise<string> {
    const r = (await new MockActivityEnvironment({
      attempt: 2,
      heartbeatDetails: { emittedPages: 1_000 },
    }).run(planAccountWith, adapter, stack.client, input('unused'))) as PlanAccountResult;
    assert.ok(r.planHash);
    return r.planHash;
  }
});

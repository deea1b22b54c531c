/**
 * The raw-throughput baseline of the benchmark: a trivial workflow that runs `n` no-op activities,
 * `concurrency` at a time. The benchmark starts one per account with the accounts' concurrency, so it
 * has the shape of the lanes (one workflow per account, a window of activities) without any of their work.
 */
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '30s' });

export async function noopFanout(input: { n: number; concurrency: number }): Promise<number> {
  let next = 0;
  let done = 0;
  const slot = async () => {
    while (next < input.n) {
      next++;
      await noop();
      done++;
    }
  };
  await Promise.all(Array.from({ length: input.concurrency }, slot));
  return done;
}

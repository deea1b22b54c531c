/**
 * The task-queue fairness key of an account's deletion activities (issue 16): the account name, so a
 * cluster with task-queue fairness enabled shares the workers' activity slots between accounts in
 * turn instead of first come, first served (a burst of one account's deletions cannot hold every
 * slot while another account's wait). Servers without fairness enabled ignore the key; self-hosted
 * servers and the dev server (Temporal Server >= 1.29) enable it with the dynamic config value
 * `matching.enableFairness=true` (docs/operations.md).
 *
 * Temporal limits the key to 64 bytes: a longer name is cut and keeps a hash of the whole name, so two
 * long names that share their first bytes still get keys of their own. Pure and deterministic.
 */
import type { Priority } from '@temporalio/common';

export const MAX_FAIRNESS_KEY_BYTES = 64;

export function fairnessOf(account: string): Priority {
  return { fairnessKey: fairnessKey(account) };
}

export function fairnessKey(account: string): string {
  const bytes = new TextEncoder().encode(account);
  if (bytes.length <= MAX_FAIRNESS_KEY_BYTES) return account;
  // FNV-1a over the UTF-8 bytes: 8 hex digits.
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  const suffix = `~${h.toString(16).padStart(8, '0')}`;
  let cut = '';
  for (const ch of account) {
    if (new TextEncoder().encode(cut + ch).length + suffix.length > MAX_FAIRNESS_KEY_BYTES) break;
    cut += ch;
  }
  return cut + suffix;
}

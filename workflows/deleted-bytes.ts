/**
 * Bytes freed per account, summed in the workflows from deleted items' listed sizes (issue 19): a
 * deleted item without a size counts in `unsized`, never as 0 bytes. Pure and deterministic
 * (workflow code); Maps keyed by account, so no account name can reach an object's prototype.
 */
import type { DeletedBytes } from '../contract/messages';

export function addDeletedBytes(
  into: Map<string, DeletedBytes>,
  account: string,
  sizeBytes: number | undefined,
): void {
  const d = into.get(account) ?? { bytes: 0, unsized: 0 };
  if (sizeBytes === undefined) d.unsized++;
  else d.bytes += sizeBytes;
  into.set(account, d);
}

/** Adds a per-account record (a batch report's, or a carried one) into the map. */
export function mergeDeletedBytes(
  into: Map<string, DeletedBytes>,
  from: Record<string, DeletedBytes> | undefined,
): void {
  if (!from) return;
  for (const [account, b] of Object.entries(from)) {
    const d = into.get(account) ?? { bytes: 0, unsized: 0 };
    d.bytes += b.bytes;
    d.unsized += b.unsized;
    into.set(account, d);
  }
}

/** A copy as a plain record, for a signal, a carry or a query answer. */
export function deletedBytesRecord(m: Map<string, DeletedBytes>): Record<string, DeletedBytes> {
  return Object.fromEntries([...m].map(([a, b]) => [a, { ...b }]));
}

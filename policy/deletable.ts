import type { BackupRecord } from '../contract/model';

/**
 * The provider's reason a backup cannot be deleted, or undefined when it can. Anything but an
 * explicit `{ ok: true }` counts as "not deletable": records cross process boundaries as JSON, and
 * a malformed one must fail towards keeping the backup.
 */
export function notDeletableReason(record: BackupRecord): string | undefined {
  const d = record.deletable as unknown;
  if (d !== null && typeof d === 'object' && (d as { ok?: unknown }).ok === true) return undefined;
  const reason = d !== null && typeof d === 'object' ? (d as { reason?: unknown }).reason : undefined;
  return typeof reason === 'string' && reason !== '' ? reason : 'the provider did not mark it deletable';
}

/** Only an explicit `successful: true` counts towards keep rules and min-keep. */
export function isSuccessful(record: BackupRecord): boolean {
  return record.successful === true;
}

import type { BackupRecord } from '../contract/model';
import { compareStrings } from './order';
import { matchesGlob } from './glob';
import type { RetentionPolicy } from './schema';

/**
 * Why a backup is protected, or undefined. Any one match protects (ids, name patterns and tags
 * are alternatives, not conditions that must all hold). Checked in a fixed order so the reason
 * shown is the same on every run.
 */
export function protectionReason(
  record: BackupRecord,
  protect: RetentionPolicy['protect'],
): string | undefined {
  if (!protect) return undefined;
  for (const id of protect.ids ?? []) {
    // Both ids: `id` is what a deletion uses (Veeam: the VM), `backupId` the provider's own id.
    if (record.id === id || record.backupId === id) return `protected: id ${JSON.stringify(id)}`;
  }
  if (record.name !== undefined) {
    for (const pattern of protect.namePatterns ?? []) {
      if (matchesGlob(pattern, record.name)) return `protected: name pattern ${JSON.stringify(pattern)}`;
    }
  }
  const tags = protect.tags ?? {};
  for (const key of Object.keys(tags).sort(compareStrings)) {
    const wanted = tags[key];
    const actual =
      record.tags && Object.prototype.hasOwnProperty.call(record.tags, key) ? record.tags[key] : undefined;
    if (wanted !== undefined && typeof actual === 'string' && matchesGlob(wanted, actual)) {
      return `protected: tag ${key}=${wanted}`;
    }
  }
  return undefined;
}

/**
 * The request hash: sha256 of the validated request (defaults applied, every unique item, in order)
 * as canonical JSON (object keys sorted, no white space), without `dryRun`: a file's dry run and its
 * executed run (`start --execute` sets it) answer the same request and carry the same hash; the
 * report's `dryRun` field says which one it was. The client writes it to the run's memo
 * (`requestHash`) when it starts a run or creates a schedule, and `report` prints it in the report's
 * header, so a report file says which request it answers: `validate FILE --json` prints the same
 * hash for a request file (README "Guarantees": every item has exactly one outcome — of THIS request).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../contract/canonical-json';

/** Memo key of the request hash on a run (and on the runs a schedule starts). */
export const REQUEST_HASH_MEMO_KEY = 'requestHash';

export function requestHash(request: object): string {
  const { dryRun: _mode, ...asked } = request as { dryRun?: unknown };
  return `sha256:${createHash('sha256').update(canonicalJson(asked)).digest('hex')}`;
}

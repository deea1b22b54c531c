/**
 * What every path of the deletion activity shares (single.ts, veeam-once.ts, group.ts): the delete
 * request and how its answer reads, the outcome an observation ends with, the "requesting" record
 * written before a request (README "Guarantees": The report never contradicts the provider), and
 * which attempt decided an outcome.
 */
import { Context } from '@temporalio/activity';
import type { ItemRef } from '../../contract/model';
import { FAILURE } from '../../contract/failure-types';
import { outcomeBase, truncateReason } from '../../contract/outcome-shape';
import type { CallContext, DeletionHandle, Observation, ProviderAdapter } from '../providers/adapter';
import { isProviderError, type ProviderError } from '../provider-error';
import { jitter } from '../deletion-timing';
import { inspectResent } from '../resent-items';
import type { AcceptedDeletion, Outcome } from './contract';

/**
 * Recorded before the delete request goes out (README "Guarantees": The report never contradicts the provider): a retry that
 * finds it may be the retry of a request the provider accepted but whose answer was lost with a
 * worker. `at` (ms epoch) is when the request was about to go out; `send` what it asks for.
 */
export interface RequestingRecord {
  phase: 'requesting';
  at?: number;
  send?: string;
}

/** What a delete request asks for, as recorded in "requesting" (no credentials: ids only). */
export function requestSummary(item: ItemRef): string {
  const where = item.checkpointId ? ` of checkpoint ${item.checkpointId}` : '';
  return `delete ${item.account}/${item.id}${where}`;
}

/** The reason of an item a lost acknowledgement left: our request deleted it (not `absent`). */
export const ACK_LOST_REASON =
  'provider shows it gone after our delete request; the acknowledgement was lost when a worker stopped';

/** Transport failures that happen before a request leaves the worker: the provider never saw it. */
const NOT_SENT = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * A failed delete request the provider may still have carried out: a timeout or reset after it was
 * sent, a gateway timeout (504), an accepting status whose body was cut off. Such a request is not
 * "answered": its "requesting" record stays, so the retry reads a 404 as our deletion, not `absent`
 * (README "Guarantees": The report never contradicts the provider).
 */
export function answerMayBeLost(err: ProviderError): boolean {
  if (err.kind !== 'transient') return false;
  const status = err.info.status;
  if (status === undefined) return !NOT_SENT.has(err.context.transport ?? '');
  return status === 504 || (status >= 200 && status < 300);
}

/** Transient poll failures retried inside one attempt before it gives up to Temporal's retry. */
export const POLL_RETRIES_IN_ATTEMPT = 5;

/** The outcome of an item not requested because its run no longer runs (the lane stops that run's items). */
export function notRequested(item: ItemRef, why: string): Outcome {
  return { ...outcomeBase(item), outcome: 'skipped', reason: truncateReason(why), code: FAILURE.RunStopped };
}

/**
 * A run that stopped (cancelled, terminated, reset) while an earlier attempt's request of ours was
 * unanswered (its "requesting" record): the request is never sent again, since that would be a delete
 * after the stop (README "Guarantees": Temporal's controls stop deletions). One read says what the
 * earlier request did: gone is our deletion (the acknowledgement was lost), a deletion running is
 * observed to its end, still there means it was not accepted, so the item is not requested (skipped).
 * An unreadable provider throws the ProviderError: the caller keeps the item undecided.
 */
export async function settleForStoppedRun(
  adapter: ProviderAdapter,
  item: ItemRef,
  call: CallContext,
  stopped: string,
): Promise<{ outcome: Outcome } | { accepted: AcceptedDeletion }> {
  const seen = await inspectResent(adapter, item, call);
  if (seen === 'gone')
    return { outcome: { ...outcomeBase(item), outcome: 'deleted', reason: ACK_LOST_REASON } };
  if (seen === 'deleting') return { accepted: { handle: {} } };
  return { outcome: notRequested(item, stopped) };
}

/** Which activity attempt decided an outcome, and when (issue 13 item 3, "Say why"). */
export function decided(outcome: Outcome): Outcome {
  const { activityType, attempt } = Context.current().info;
  return { ...outcome, decidedBy: `${activityType} attempt ${attempt}, ${new Date().toISOString()}` };
}

/** The provider's answer to our delete: a final outcome at once (gone, blocked), or accepted. */
export async function requestDeletion(
  adapter: ProviderAdapter,
  item: ItemRef,
  call: CallContext,
  /** A "requesting" record of an earlier attempt was found: a 404 is the deletion it asked for. */
  mayBeAccepted = false,
): Promise<{ outcome: Outcome } | { accepted: AcceptedDeletion }> {
  // After an unanswered request of ours, look before asking again: gone is our deletion, and a repeat
  // of an accepted delete (README "Guarantees": One deletion per backup) is not sent. Only "gone" is
  // read here: other states mean different things for a backup nobody asked to delete.
  if (mayBeAccepted && (await goneNow(adapter, item, call)))
    return { outcome: { ...outcomeBase(item), outcome: 'deleted', reason: ACK_LOST_REASON } };
  try {
    return { accepted: { handle: await adapter.requestDeletion(item, call) } };
  } catch (err) {
    if (!isProviderError(err)) throw err;
    if (err.kind === 'not-found' && mayBeAccepted)
      return { outcome: { ...outcomeBase(item), outcome: 'deleted', reason: ACK_LOST_REASON, ...code(err) } };
    if (err.kind === 'not-found')
      return {
        outcome: {
          ...outcomeBase(item),
          outcome: 'absent',
          reason: 'already gone before our delete',
          ...code(err),
        },
      };
    if (err.kind === 'blocked')
      return {
        outcome: {
          ...outcomeBase(item),
          outcome: 'blocked',
          reason: truncateReason(err.message),
          ...code(err),
        },
      };
    // A deletion is already running on it: observe that one to its end. After an unanswered request
    // of ours, "busy" is most likely that request's deletion running (every provider but Veeam refuses a
    // delete while one runs): observed too, not left to a retry that would later find it gone (absent).
    if (err.kind === 'in-progress' || (err.kind === 'busy' && mayBeAccepted))
      return { accepted: { handle: {} } };
    throw err;
  }
}

/** The outcome an observation ends with, or undefined while the deletion is still pending. */
export function outcomeOf(item: ItemRef, seen: Observation, handle?: DeletionHandle): Outcome | undefined {
  const base = outcomeBase(item);
  // An accepted answer that did not match its documented shape is said in the reason (not a failure).
  const note = handle?.note ? `; ${handle.note}` : '';
  switch (seen.state) {
    case 'gone':
      return {
        ...base,
        outcome: 'deleted',
        reason: truncateReason(`provider confirmed the deletion${seen.note ? `; ${seen.note}` : ''}${note}`),
      };
    case 'failed':
      return {
        ...base,
        outcome: 'failed',
        reason: truncateReason(`provider reports ${seen.status}: ${seen.reason}`),
        ...(seen.code ? { code: seen.code } : {}),
      };
    case 'blocked':
      return {
        ...base,
        outcome: 'blocked',
        reason: truncateReason(seen.reason),
        ...(seen.code ? { code: seen.code } : {}),
      };
    case 'pending':
      return undefined;
  }
}

/** One look: is the item gone? A failed look is "don't know" (false): the request then decides. */
export async function goneNow(adapter: ProviderAdapter, item: ItemRef, call: CallContext): Promise<boolean> {
  try {
    return (await adapter.observeDeletion(item, {}, call)).state === 'gone';
  } catch (err) {
    if (isProviderError(err)) return false;
    throw err;
  }
}

/** The heartbeat a deletion records right before its request goes out. */
export function requestingRecord(item: ItemRef): RequestingRecord {
  return { phase: 'requesting', at: Date.now(), send: requestSummary(item) };
}

export function code(err: ProviderError): { code?: string } {
  return err.info.code ? { code: err.info.code } : {};
}

/** Exponential backoff after the n-th failure in a row inside one attempt, capped at 10 s, jittered. */
export function backoffMs(baseMs: number, failures: number): number {
  return jitter(Math.min(baseMs * 2 ** failures, 10_000));
}

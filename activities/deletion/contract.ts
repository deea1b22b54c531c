/**
 * The deletion activities' contract: what the account lane sends to deleteBackup / deleteBackups and
 * what it gets back, and the dependencies activities/index.ts injects. Types only: workflows import
 * this module with `import type`, so no activity code reaches the workflow bundle.
 */
import type { ItemOutcome, ItemRef } from '../../contract/model';
import type { DeletionHandle } from '../providers/adapter';
import type { ProviderError, ProviderErrorKind } from '../provider-error';

/** An item's outcome as an activity decides it (the lane stamps `at`). */
export type Outcome = Omit<ItemOutcome, 'at'>;

export interface DeleteBackupInput {
  item: ItemRef;
  pollIntervalMs: number;
  /** The provider already accepted this deletion (a group handed it on): observe, never delete again. */
  accepted?: AcceptedDeletion;
  /** A group's delete request for this item failed with this: the first attempt fails with it too. */
  groupError?: GroupRequestError;
  /** The run that wants it deleted: nothing is requested once that run is no longer running. */
  runWorkflowId?: string;
  /**
   * The item was re-sent by its batch to a lane that did not hold it (the earlier lane was stopped):
   * with `accepted`, that deletion is observed; without, the provider is asked what is left of the
   * backup before anything is requested (activities/resent-items.ts).
   */
  resent?: true;
  /**
   * The batch that wants the item deleted, told the handle as soon as the provider accepts (providers
   * whose deletes must never repeat): it keeps the handle across a lane terminate (acceptedSignal).
   */
  reportAcceptedTo?: string;
}

/** Tells a batch that the provider accepted an item's deletion (activities/index.ts signals it). */
export type AcceptanceReport = (
  batchWorkflowId: string,
  item: ItemRef,
  handle: DeletionHandle,
) => Promise<void>;

/** A provider error as a group hands it on (plain data: it travels through the lane's history). */
export interface GroupRequestError {
  kind: ProviderErrorKind;
  message: string;
  info: ProviderError['info'];
  /**
   * A request of ours for this item may have been carried out although none was answered (this one
   * timed out after it was sent, see answerMayBeLost, or an earlier attempt's went unanswered).
   */
  mayBeAccepted?: true;
}

/** What the provider said when it accepted a deletion, and the last status seen since. */
export interface AcceptedDeletion {
  handle: DeletionHandle;
  lastStatus?: string;
}

/**
 * Asked right before a delete request goes out: why it must not (the run that wants it stopped), or
 * undefined. See activities/run-liveness.ts.
 */
export type RequestGate = (runWorkflowId: string) => Promise<string | undefined>;

export interface DeleteBackupsInput {
  /** Items of one account, at most one entry per backup. */
  items: ItemRef[];
  pollIntervalMs: number;
  /** Absent: every item is requested at once (a plain group). Present: a pipelined group. */
  pipeline?: PipelineInput;
  /** The run that wants them deleted (one run per group): nothing is requested once it stopped. */
  runWorkflowId?: string;
}

/**
 * A pipelined group holds `slots` of the account's window: the first `slots` items (admitted by the
 * lane) start at once, each later item as soon as an earlier one finishes, so a slot is never idle
 * between two deletions for a workflow round trip. Later items start only within `startWithinMs` of the
 * group being scheduled, within the account's request rate (the lane's recent starts included), and
 * only while nothing has gone wrong: after the first failure, error or straggler the group stops
 * starting and hands the rest back (`notStarted`), so the lane's breaker, retries and controls decide.
 */
export interface PipelineInput {
  slots: number;
  startWithinMs: number;
  requestsPerSecond: number;
  /** The lane's recent start times (ascending), without the group's first `slots` items. */
  recentStarts: number[];
  /**
   * Hand over at the window's end (for deletions longer than the window: when the first slot comes
   * free after it): the group returns, giving the deletions still in progress back as `handedOver`
   * instead of waiting for them, so the lane's next group observes them and its slots go on without
   * idling through the slowest item and a round trip.
   */
  handOver?: boolean;
  /** Deletions handed over by the previous group: the first `resumed.length` items, observed, not requested. */
  resumed?: HandedOver[];
}

/** A deletion still in progress when its group's window closed. */
export interface HandedOver {
  accepted: AcceptedDeletion;
  /** When the provider accepted the delete (ms epoch): the next group's first poll is timed from it. */
  acceptedAt: number;
}

/**
 * Per item, in input order: its outcome, or the item to continue as its own deleteBackup activity
 * (with what the provider accepted, or null when the delete was not accepted yet), or, in a pipelined
 * group, an item never requested. `requestedAt` (pipelined groups) is when its delete went out.
 */
export type GroupItemResult = (
  | { outcome: Outcome }
  | { continueWith: AcceptedDeletion }
  | { continueWith: null; requestError: GroupRequestError }
  | { notStarted: true }
  | { handedOver: HandedOver }
) & { requestedAt?: number };

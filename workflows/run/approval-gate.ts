/**
 * The run's approval gate (issue 14; README, "Guarantees": only the approved plan is deleted; and
 * "Approving deletions"): which exact (account, id) set the run would delete, its hash, and the
 * decision. Pure and deterministic (the hash is computed in the workflow); the run
 * (workflows/retention-cleanup.ts) holds every batch while the gate is `awaiting`.
 *
 * planHash = sha256 over the sorted item keys of the deletions, one per line, then the request's hash
 * (its canonical JSON without the items, which the keys already are). A different set, or the same
 * set under another policy, guards or dry-run setting, is a different plan.
 */
import {
  MAX_APPROVAL_TEXT_CHARS,
  MAX_APPROVER_CHARS,
  type ApprovalRecord,
  type ApproveInput,
  type RejectInput,
  type RunPlan,
} from '../../contract/approval';
import { canonicalJson } from '../../contract/canonical-json';
import { sha256Hex } from './sha256';

export type GateState = RunPlan['approval']['state'];

/** What the gate carries through continue-as-new. */
export interface GateCarry {
  /** [item key, batch index] of every deletion the run received (a key may appear in two batches). */
  entries: [string, number][];
  /** [item key, account, id, checkpointId?] for the recheck of policy runs and the `items` view. */
  refs: [string, string, string, string?][];
  state: GateState;
  required: boolean;
  approvers?: string[];
  deadline?: string;
  planHash?: string;
  record?: ApprovalRecord;
  decidedBy?: string;
  /** Policy runs: the approved plan was listed again and what changed was skipped. */
  rechecked?: boolean;
  /** Items arrived before the run knew it needed approval: the recorded set is not the whole plan. */
  incomplete?: boolean;
  /**
   * Once approved and applied, the keys are dropped (see compact) and only the deletions per account
   * are kept, so a large run's continue-as-new input stays small while it deletes.
   */
  perAccount?: Record<string, number>;
}

/** The plan hash of a set of item keys under a request (see the module comment). */
export function planHashOf(keys: Iterable<string>, request: Record<string, unknown>): string {
  const { items: _items, ...rest } = request;
  const sorted = [...new Set(keys)].sort();
  return sha256Hex(`${sorted.join('\n')}\n--\n${sha256Hex(canonicalJson(rest))}`);
}

export class ApprovalGate {
  readonly c: GateCarry;

  constructor(carry?: GateCarry) {
    this.c = carry ?? { entries: [], refs: [], state: 'not-required', required: false };
  }

  /** Records a page of deletions the run put into batch `n`. */
  add(items: { key: string; account: string; id: string; checkpointId?: string }[], n: number): void {
    const known = new Set(this.c.refs.map((r) => r[0]));
    for (const i of items) {
      this.c.entries.push([i.key, n]);
      if (known.has(i.key)) continue;
      known.add(i.key);
      this.c.refs.push(i.checkpointId ? [i.key, i.account, i.id, i.checkpointId] : [i.key, i.account, i.id]);
    }
  }

  get state(): GateState {
    return this.c.state;
  }

  get awaiting(): boolean {
    return this.c.state === 'awaiting';
  }

  /** Computed once the run is sealed (the set no longer changes). */
  hash(request: Record<string, unknown>): string {
    return (this.c.planHash ??= planHashOf(
      this.c.refs.map((r) => r[0]),
      request,
    ));
  }

  /** The hash without keeping it (queries must not change the run's state). */
  peekHash(request: Record<string, unknown>): string {
    return (
      this.c.planHash ??
      planHashOf(
        this.c.refs.map((r) => r[0]),
        request,
      )
    );
  }

  /** The run waits: nothing is sent until a decision. */
  open(hash: string, deadline: string, approvers?: string[]): void {
    this.c.required = true;
    this.c.state = 'awaiting';
    this.c.planHash = hash;
    this.c.deadline = deadline;
    if (approvers) this.c.approvers = approvers;
  }

  /** Why an `approve` must be refused, or undefined when it may be taken. */
  refuseApprove(input: ApproveInput | undefined): string | undefined {
    if (!input || typeof input !== 'object') return 'expected {"planHash": "...", "approver": "..."}';
    if (typeof input.approver !== 'string' || !input.approver)
      return 'approver: name who approves, e.g. {"approver": "alice"}';
    if (input.comment !== undefined && typeof input.comment !== 'string') return 'comment: expected text';
    const tooLong = textTooLong(input.approver, input.comment, 'comment');
    if (tooLong) return tooLong;
    if (!this.awaiting) return this.notAwaiting();
    if (this.c.approvers && !this.c.approvers.includes(input.approver))
      return `approver: ${JSON.stringify(input.approver)} may not approve this run; the request names ${this.c.approvers.join(', ')}`;
    if (input.planHash !== this.c.planHash)
      return `planHash: ${JSON.stringify(input.planHash ?? null)} is not the plan this run waits with (${this.c.planHash}); query \`plan\` and approve what it shows`;
    return undefined;
  }

  /** Why a `reject` must be refused, or undefined when it may be taken. */
  refuseReject(input: RejectInput | undefined): string | undefined {
    if (!input || typeof input !== 'object') return 'expected {"approver": "...", "reason": "..."}';
    if (typeof input.approver !== 'string' || !input.approver)
      return 'approver: name who rejects, e.g. {"approver": "alice"}';
    if (typeof input.reason !== 'string' || !input.reason.trim())
      return 'reason: say why the plan is rejected, e.g. {"reason": "too many deletions on vbs-prod"}';
    const tooLong = textTooLong(input.approver, input.reason, 'reason');
    if (tooLong) return tooLong;
    if (!this.awaiting) return this.notAwaiting();
    if (this.c.approvers && !this.c.approvers.includes(input.approver))
      return `approver: ${JSON.stringify(input.approver)} may not reject this run; the request names ${this.c.approvers.join(', ')}`;
    return undefined;
  }

  private notAwaiting(): string {
    const why: Record<GateState, string> = {
      'not-required': 'this run does not wait for approval',
      planning: 'this run is still planning; query `plan` once it awaits approval',
      awaiting: '',
      approved: `this run was already approved by ${this.c.decidedBy ?? 'someone'}`,
      rejected: `this run was already rejected by ${this.c.decidedBy ?? 'someone'}`,
      'timed-out': 'this run stopped waiting: the approval timed out',
    };
    return `not awaiting approval: ${why[this.c.state]}`;
  }

  approve(input: ApproveInput, at: string): ApprovalRecord {
    this.c.state = 'approved';
    this.c.decidedBy = input.approver;
    this.c.record = {
      approver: input.approver,
      ...(input.comment ? { comment: input.comment } : {}),
      at,
      planHash: this.c.planHash!,
    };
    return this.c.record;
  }

  reject(input: RejectInput): string {
    this.c.state = 'rejected';
    this.c.decidedBy = input.approver;
    return `plan rejected by ${input.approver}: ${input.reason}`;
  }

  timeOut(): string {
    this.c.state = 'timed-out';
    return 'approval timed out';
  }

  /** Approved items per account: [key, id, checkpointId?]. */
  itemsByAccount(): Map<string, { key: string; id: string; checkpointId?: string }[]> {
    const m = new Map<string, { key: string; id: string; checkpointId?: string }[]>();
    for (const [key, account, id, checkpointId] of this.c.refs) {
      if (!m.has(account)) m.set(account, []);
      m.get(account)!.push({ key, id, ...(checkpointId ? { checkpointId } : {}) });
    }
    return m;
  }

  /** Deletions per account: from the keys, or the counts kept when they were dropped. */
  deletionsPerAccount(): Map<string, number> {
    if (this.c.perAccount) return new Map(Object.entries(this.c.perAccount));
    const m = new Map<string, number>();
    for (const [, account] of this.c.refs) m.set(account, (m.get(account) ?? 0) + 1);
    return m;
  }

  /** After the approved plan was applied the keys are no longer needed: keep counts only. */
  compact(request: Record<string, unknown>): void {
    if (this.c.perAccount) return;
    this.hash(request); // the hash is kept: it can no longer be computed without the keys
    this.c.perAccount = Object.fromEntries(this.deletionsPerAccount());
    this.c.refs = [];
    this.c.entries = [];
  }

  /** The batches holding each of these keys. */
  batchesOf(keys: readonly string[]): Map<number, string[]> {
    const wanted = new Set(keys);
    const m = new Map<number, string[]>();
    for (const [key, n] of this.c.entries) {
      if (!wanted.has(key)) continue;
      if (!m.has(n)) m.set(n, []);
      m.get(n)!.push(key);
    }
    return m;
  }
}

/** The approver's name and free text are kept in the memo, the items' reasons and the report header: bounded. */
function textTooLong(
  approver: string,
  text: string | undefined,
  field: 'comment' | 'reason',
): string | undefined {
  if (approver.length > MAX_APPROVER_CHARS)
    return `approver: at most ${MAX_APPROVER_CHARS} characters (got ${approver.length}); use a login name`;
  if (text !== undefined && text.length > MAX_APPROVAL_TEXT_CHARS)
    return `${field}: at most ${MAX_APPROVAL_TEXT_CHARS} characters (got ${text.length}); link to a ticket for more`;
  return undefined;
}

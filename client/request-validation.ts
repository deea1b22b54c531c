/**
 * Client-side validation of a cleanup request, before Temporal is contacted. Same rules as the
 * workflow (contract/request.ts), except that the client accepts any number of items: it sends them
 * in pages of MAX_ITEMS_PER_PAGE (so every page is validated here, with item indexes of the whole list).
 */
import { itemKey, type ItemRef } from '../contract/model';
import {
  MAX_ITEMS_PER_PAGE,
  parseCleanupRequest,
  parseItemPage,
  type CleanupRequest,
  type ParseResult,
} from '../contract/request';

/** A request (or schedule) that failed validation; `problems` has one line per problem, naming the field. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  constructor(
    readonly problems: string[],
    what = 'cleanup request',
  ) {
    super(`invalid ${what}:\n  - ${problems.join('\n  - ')}`);
  }
}

export interface ValidatedRequest {
  /** The parsed request, defaults applied (`dryRun` is explicit), `items` holding every unique item. */
  request: CleanupRequest;
  items: ItemRef[];
  /** Items dropped because an earlier item had the same account/checkpoint/id. */
  duplicatesMerged: number;
  /** Pages the client will send (1 for requests of at most MAX_ITEMS_PER_PAGE items). */
  pages: number;
}

/** Problems beyond this many are summarised in one line: a 100k-item file with a systematic error stays readable. */
export const MAX_PROBLEMS_LISTED = 50;

export function validateRequest(raw: unknown): ParseResult<ValidatedRequest> {
  const rawItems = isObject(raw) ? raw.items : undefined;
  const problems: string[] = [];
  const laterPages: ItemRef[] = [];
  let envelope: ReturnType<typeof parseCleanupRequest>;
  if (isObject(raw) && Array.isArray(rawItems) && rawItems.length > MAX_ITEMS_PER_PAGE) {
    envelope = parseCleanupRequest({ ...raw, items: rawItems.slice(0, MAX_ITEMS_PER_PAGE) });
    if (!envelope.ok) problems.push(...envelope.problems);
    for (let offset = MAX_ITEMS_PER_PAGE; offset < rawItems.length; offset += MAX_ITEMS_PER_PAGE) {
      const page = parseItemPage(rawItems.slice(offset, offset + MAX_ITEMS_PER_PAGE));
      if (!page.ok) problems.push(...page.problems.map((p) => renumber(p, offset)));
      else laterPages.push(...page.value);
    }
  } else {
    envelope = parseCleanupRequest(raw);
    if (!envelope.ok) problems.push(...envelope.problems);
  }
  if (problems.length || !envelope.ok) return { ok: false, problems: capProblems(problems) };

  const parsedItems: ItemRef[] = [...(envelope.value.items ?? []), ...laterPages];
  const seen = new Set<string>();
  const items: ItemRef[] = [];
  for (const item of parsedItems) {
    const key = itemKey(item);
    if (seen.has(key)) continue;
    seen.add(key);
    items.push(copyItem(item));
  }
  return {
    ok: true,
    value: {
      request: { ...envelope.value, items },
      items,
      duplicatesMerged: parsedItems.length - items.length,
      pages: Math.max(1, Math.ceil(items.length / MAX_ITEMS_PER_PAGE)),
    },
  };
}

/** Only the fields of an item (the schema is strict, so there are no others; this drops prototypes). */
function copyItem(i: ItemRef): ItemRef {
  return {
    account: i.account,
    id: i.id,
    ...(i.checkpointId !== undefined ? { checkpointId: i.checkpointId } : {}),
    // A listed size (e.g. from an exported plan) travels to the outcome and the bytes metric.
    ...(i.sizeBytes !== undefined ? { sizeBytes: i.sizeBytes } : {}),
  };
}

/** `[3].id: ...` of a page starting at `offset` → `items[offset+3].id: ...`. */
function renumber(problem: string, offset: number): string {
  const m = /^\[(\d+)\]/.exec(problem);
  return m ? `items[${Number(m[1]) + offset}]${problem.slice(m[0].length)}` : `items: ${problem}`;
}

export function capProblems(problems: string[]): string[] {
  if (problems.length <= MAX_PROBLEMS_LISTED) return problems;
  return [
    ...problems.slice(0, MAX_PROBLEMS_LISTED),
    `... and ${problems.length - MAX_PROBLEMS_LISTED} more problems of the same kind`,
  ];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes set on every run, so operators can find runs in the Web UI
 * (e.g. `RetentionAccounts = "vbs-prod" AND RetentionProblems > 0`). The dev stack registers them;
 * on a real cluster run `retention-cleanup setup-namespace` once (client/namespace-setup.ts,
 * docs/operations.md).
 */
export const SA = {
  accounts: defineSearchAttributeKey('RetentionAccounts', SearchAttributeType.KEYWORD_LIST),
  providers: defineSearchAttributeKey('RetentionProviders', SearchAttributeType.KEYWORD_LIST),
  dryRun: defineSearchAttributeKey('RetentionDryRun', SearchAttributeType.BOOL),
  deleted: defineSearchAttributeKey('RetentionDeleted', SearchAttributeType.INT),
  /** failed + blocked: the items someone should look at. (SQLite visibility allows only 3 Int attributes.) */
  problems: defineSearchAttributeKey('RetentionProblems', SearchAttributeType.INT),
  total: defineSearchAttributeKey('RetentionItems', SearchAttributeType.INT),
} as const;

/** How Temporal's CLI and docs name each type (`--search-attribute NAME=TYPE`, `--type TYPE`). */
export const SEARCH_ATTRIBUTE_TYPE_NAMES: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** name → CLI type, for `temporal server start-dev --search-attribute NAME=TYPE`. */
export const SEARCH_ATTRIBUTE_DEFINITIONS: Record<string, string> = Object.fromEntries(
  Object.values(SA).map((key) => [key.name, SEARCH_ATTRIBUTE_TYPE_NAMES[key.type]]),
);

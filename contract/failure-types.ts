/**
 * The failure types our activities throw and the outcome codes they leave, named once. Workflows,
 * activities and the CLI import them from here (pure: no Temporal, no Node), so a name is never a
 * string literal in five files. Which of them a retry can fix: contract/retry-rules.ts.
 */
export const FAILURE = {
  /** The provider's answer does not match its documented contract (schema, content type). */
  InvalidProviderResponse: 'InvalidProviderResponse',
  /** The provider refused for a reason retries cannot fix. */
  ProviderRejected: 'ProviderRejected',
  /** The worker config of the account is unusable (credentials missing, bad reference). */
  AccountConfigError: 'AccountConfigError',
  /** The request names an account the worker config does not have. */
  UnknownAccount: 'UnknownAccount',
  /** The request itself is invalid. */
  InvalidRequest: 'InvalidRequest',
  /** A 404 without the provider's not-found marker: the account's endpoint is wrong (never "absent"). */
  AccountMisconfigured: 'AccountMisconfigured',
  /** A listing that disagrees with its own counts or pages (activities/listing.ts): not planned on. */
  UntrustworthyListing: 'UntrustworthyListing',
  /** A policy account's listing no longer gives the plan the guards checked (activities/discover.ts). */
  PlanChanged: 'PlanChanged',
  /** Outcome code of an item not requested because the run that wanted it no longer runs. */
  RunStopped: 'RunStopped',
  /** Outcome code of a never-repeat delete whose request may or may not have reached the provider. */
  UnansweredRequest: 'UnansweredRequest',
} as const;

export type FailureType = (typeof FAILURE)[keyof typeof FAILURE];

/**
 * Retention policies: which expired backups to delete, decided purely and deterministically so the
 * same code can run in the client (dry runs, reviews) and inside the workflow sandbox.
 */
export {
  DURATION_FORMAT,
  DurationError,
  cutoffBefore,
  parseDuration,
  subtractDuration,
  tryParseDuration,
  type Duration,
  type DurationResult,
} from './duration';
export {
  PolicyError,
  RULE_FIELDS,
  assertRetentionPolicy,
  describePolicyIssues,
  durationSchema,
  parseRetentionPolicy,
  retentionPolicySchema,
  type PolicyParseResult,
  type RetentionPolicy,
  type RetentionPolicyInput,
  type RuleField,
} from './schema';
export { planRetention } from './plan';
export type { Decision, GroupPlan, PlanAction, PlannedRecord, RetentionPlan } from './plan-types';
export { isoWeekKey, periodKey, type Period } from './periods';
export { matchesGlob } from './glob';
export {
  checkCounts,
  checkGuards,
  groupOfFromRecords,
  guardsSchema,
  populationFromRecords,
  type GuardName,
  type GuardResult,
  type GuardViolation,
  type Guards,
  type Population,
} from './guards';

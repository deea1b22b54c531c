/**
 * The package export of retention-cleanup: the typed client, schedules, report writers and the
 * request/outcome types. `import { RetentionClient } from 'retention-cleanup'`.
 */
export {
  RetentionClient,
  defaultWorkflowId,
  errorMessage,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type ConnectOptions,
  type FollowOptions,
  type RunStatus,
  type StartOptions,
} from './retention-client';
export { ApprovalRefusedError } from './approval';
export type { ApprovalRecord, ApproveInput, RejectInput, RunPlan } from '../contract/approval';
export {
  InvalidRequestError,
  MAX_PROBLEMS_LISTED,
  validateRequest,
  type ValidatedRequest,
} from './request-validation';
export {
  OVERLAP_POLICIES,
  RetentionSchedules,
  formatDuration,
  parseDuration,
  scheduleWorkflowId,
  validateBackfill,
  validateSchedule,
  type BackfillOptions,
  type CreateScheduleOptions,
  type OverlapPolicyName,
  type ScheduledRun,
  type ScheduleInfo,
  type ScheduleListEntry,
  type ScheduleRunRef,
} from './schedules';
export {
  CSV_COLUMNS,
  CSV_HEADER,
  REPORT_FORMATS,
  csvField,
  csvRow,
  formatReport,
  jsonlLine,
  csvSummaryLines,
  parseCsv,
  parseCsvReport,
  reportSummary,
  reportToString,
  summaryLine,
  writeReport,
  type ReportFormat,
  type ReportSummary,
} from './report';
export { REQUEST_HASH_MEMO_KEY, requestHash } from './request-hash';
export { temporalSettings, type TemporalSettings } from './connection';

// Request and outcome types, and the names the workflows use.
export {
  MAX_ITEMS_PER_PAGE,
  cleanupRequestSchema,
  parseCleanupRequest,
  type CleanupRequest,
  type CleanupRequestInput,
  type ParseResult,
} from '../contract/request';
export {
  OUTCOMES,
  PROVIDERS,
  type ItemOutcome,
  type ItemRef,
  type OutcomeCounts,
  type OutcomeKind,
  type ProviderKind,
} from '../contract/model';
export type { AccountProgress, RunProgress, RunState, RunSummary } from '../contract/messages';
export type { BatchResult } from '../workflows/cleanup-batch';
export { TASK_QUEUE, batchWorkflowId } from '../contract/ids';

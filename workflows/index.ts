// The workflow bundle's entry point: every workflow type the worker registers.
export { retentionCleanup } from './retention-cleanup';
export { cleanupBatch } from './cleanup-batch';
export { accountLane } from './account-lane';

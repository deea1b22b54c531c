/**
 * Run events for notifications (issue 14, item 6). HOOK: this is a no-op placeholder; the "notify"
 * work replaces this file with the real call (an activity that sends the configured webhooks). Keep
 * the signature: the run calls it where `awaiting-approval` and `guard-violation` are raised.
 */
export type RunEventName =
  'awaiting-approval' | 'guard-violation' | 'circuit-open' | 'run-finished' | 'run-problems';

export async function raiseEvent(_event: RunEventName, _details: { planHash?: string }): Promise<void> {
  // No-op until notifications exist (see the module comment).
}

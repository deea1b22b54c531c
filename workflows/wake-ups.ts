/**
 * Wake-ups without a timer per activation, shared by the lane and the batch: a timer is started only
 * when no pending one falls due first, and pending timers are never cancelled (a spurious wake-up costs
 * less than a cancellation: both are history events, and a cancel also needs the timer's own event).
 */
import { sleep } from '@temporalio/workflow';

export class WakeUps {
  private readonly pending: number[] = [];

  /** `onWake` runs (in the workflow) when a timer fires; it usually marks the main loop dirty. */
  constructor(private readonly onWake: () => void) {}

  /**
   * Makes sure the workflow wakes at `due` (workflow time, ms) or earlier. `summary` is what the Web
   * UI shows on the timer's event (contract/user-metadata.ts); it is user metadata, not part of the
   * command replay compares, so adding or rewording one never breaks a recorded history.
   */
  at(due: number, summary?: string): void {
    if (this.pending.some((w) => w <= due)) return;
    this.pending.push(due);
    sleep(Math.max(1, Math.ceil(due - Date.now())), summary ? { summary } : undefined)
      .then(() => {
        this.pending.splice(this.pending.indexOf(due), 1);
        this.onWake();
      })
      .catch(() => undefined); // cancelled with the workflow
  }
}

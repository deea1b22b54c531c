/**
 * How many items a pipelined deletion group is handed beyond the one each of its slots starts with
 * (see activities' PipelineInput). `depth` (items per slot) doubles while groups start everything they
 * are given and shrinks to what they managed, plus one, when they hand items back, so a slow provider
 * is not handed items it cannot start. Pure; unit-tested in test/lane-queues.test.ts.
 */

/** Most items handed to one pipelined group (bounds its input and result payloads). */
export const MAX_PIPELINED_ITEMS = 100;
/** Items per slot handed to the first pipelined group beyond the one each slot starts with. */
export const FIRST_PIPELINE_DEPTH = 8;
/** The same, in lanes recorded before the hand-over (their groups must replay with the same items). */
export const FIRST_PIPELINE_DEPTH_BEFORE_HAND_OVER = 2;

export class PipelineDepth {
  private depth?: number;

  /**
   * Items to hand to a group of `slots` beyond its first ones. `handOverRules`: the lane runs with the
   * 'pipeline-hand-over' patch (decided per group, so lanes recorded before it replay the same sizes).
   */
  extrasWanted(slots: number, handOverRules: boolean, draining: boolean): number {
    this.depth ??= handOverRules ? FIRST_PIPELINE_DEPTH : FIRST_PIPELINE_DEPTH_BEFORE_HAND_OVER;
    return draining ? 0 : Math.min(slots * this.depth, MAX_PIPELINED_ITEMS - slots);
  }

  /** What a group did with the `extras` it was handed: it `started` that many of them. */
  learn(started: number, extras: number, slots: number, handOverRules: boolean): void {
    if (handOverRules && !extras) return;
    if (started === extras) this.depth = Math.min(this.depth! * 2, MAX_PIPELINED_ITEMS);
    // One spare per slot: a group that runs dry before its window's end idles its slots.
    else
      this.depth = handOverRules ? Math.ceil(started / slots) + 1 : Math.max(1, Math.floor(started / slots));
  }
}

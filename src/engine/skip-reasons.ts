// Skips that are a run going as asked, not a failure: the step, and what is skipped only because of it, fail
// nothing (dag.ts excusedSkips). One list, read by the DAG's end, a retry's plan and the display.

/** Stored as the reason of a step `--skip` named. */
export const SKIP_ON_REQUEST_REASON = 'SkippedOnRequest'
/** Stored as the reason of a step `--only` left out. */
export const NOT_SELECTED_REASON = 'NotSelected'

/** The selection's reasons; the condition's and the trigger rule's are added where they are defined (fanout-run.ts). */
export const REQUESTED_SKIP_REASONS: readonly string[] = [SKIP_ON_REQUEST_REASON, NOT_SELECTED_REASON]

// The facts of one run that templates, default projections and pods need.

export interface RunContext {
  runId: string
  /** Revision of the resource the run executes. */
  revision: number
  /** RFC 3339. */
  runStartTime: string
  /** RFC 3339: the fire time of a scheduled or backfill run, else when the run was created (engine/cron.ts scheduledTimeOf). */
  scheduledTime?: string
  owner: string
  workspace: string
  /** 1 for the first attempt of a step. */
  attempt?: number
  dryRun?: boolean
  /** The control plane's URL as steps reach it: a ctl inside the step talks to it (CTL_SERVER). */
  serverUrl?: string
  /** W3C traceparent of the attempt's span (`00-<trace id>-<span id>-01`), when the run has a trace: TRACEPARENT in the step. */
  traceparent?: string
}

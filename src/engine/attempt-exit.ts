// What an attempt's end, as the runtime reports it, is stored as: the step's final state (a kill ends it
// `cancelled`), the message users see, and its outputs, with the run's own redactions applied.

import type { StepRunPatch, StepState } from '../store/types.js'
import type { StepExit } from '../runtime/types.js'
import type { EngineContext } from './context.js'

/** Maps a runtime exit to the step's final state. A kill ends the step `cancelled`. */
function stateOfExit(exit: StepExit): StepState {
  if (exit.reason === 'Completed' && exit.exitCode === 0) return 'succeeded'
  if (exit.reason === 'Killed') return 'cancelled'
  return 'failed'
}

function messageOfExit(exit: StepExit): string | undefined {
  if (exit.message) return exit.message
  if (exit.reason === 'Error' && exit.exitCode !== null) return `exit code ${exit.exitCode}`
  return undefined
}

function redactMessage(redact: EngineContext['redact'], runId: string, message: string | undefined): string | undefined {
  return message === undefined ? undefined : redact(runId, message)
}

function redactOutputs(redact: EngineContext['redact'], runId: string, outputs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(outputs)) out[k] = redact(runId, v)
  return out
}

/** The step row's patch that records the end of an attempt of run `runId`. */
export function exitPatch(exit: StepExit, redact: EngineContext['redact'], runId: string): StepRunPatch & { state: StepState } {
  // Redacted by the runtime already; the run's own redactions (e.g. secret params) apply here too, like on log lines.
  const outputs = exit.outputs && Object.keys(exit.outputs).length > 0 ? redactOutputs(redact, runId, exit.outputs) : undefined
  return { state: stateOfExit(exit), exitCode: exit.exitCode ?? undefined, reason: exit.reason, message: redactMessage(redact, runId, messageOfExit(exit)), finishedAt: exit.finishedAt, outputs }
}

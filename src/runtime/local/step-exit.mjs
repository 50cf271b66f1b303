// @ts-check
// How a step attempt ended, as its exit record says: the reason, exit code and message from what
// the step host saw of it (step.mjs decides once, as the step finishes), and the outputs it wrote to
// $CTL_OUTPUTS. Plain JavaScript like the host (see step.mjs).

import os from 'node:os'
import { takeOutputs } from './step-files.mjs'

/**
 * @typedef {import('./step.mjs').StepExit} StepExit
 * @typedef {import('./step.mjs').ExitReason} ExitReason
 */

/**
 * Whether a stderr line is the sandbox launcher's own setup error: bwrap's (`bwrap: ...`) or ctl-sandbox's, which
 * says the same things the same way (`ctl-sandbox: ...`). Either binary may run a step's sandbox: one rule for both.
 * @param {string} line
 */
export function isSandboxError(line) {
  return line.startsWith('bwrap: ') || line.startsWith('ctl-sandbox: ')
}

/**
 * The exit of a step that finished, stamped now. The first cause wins: lost (its spawner died), not started, stopped
 * (killed, past its deadline), its log failed, the sandbox's own setup failed (every line written is the launcher's,
 * see isSandboxError), then the command's own exit.
 * @param {{
 *   spec: { mode: 'bubblewrap' | 'none' },
 *   exited?: { code: number | null, signal: NodeJS.Signals | null },
 *   lost?: string, startFailure?: string, stopping?: { reason: ExitReason, message: string }, logFailure?: string,
 *   sandboxErrors: string[], lineCount: number,
 * }} step
 * @returns {StepExit}
 */
export function exitOf(step) {
  const { spec, exited } = step
  const code = exited?.code ?? null
  const signal = exited?.signal ?? null
  const exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : null)
  /** @type {StepExit} */
  let result
  if (step.lost) result = { exitCode: null, reason: 'Lost', message: step.lost, finishedAt: '' }
  else if (step.startFailure) result = { exitCode: null, reason: 'StartError', message: step.startFailure, finishedAt: '' }
  // A step already being stopped (killed, past its deadline) ends for that reason even if its log failed meanwhile.
  else if (step.stopping) result = { exitCode, reason: step.stopping.reason, message: step.stopping.message, finishedAt: '' }
  else if (step.logFailure) result = { exitCode, reason: 'Error', message: step.logFailure, finishedAt: '' }
  else if (spec.mode === 'bubblewrap' && code === 1 && step.sandboxErrors.length > 0 && step.sandboxErrors.length === step.lineCount)
    result = { exitCode: null, reason: 'StartError', message: step.sandboxErrors.join('; '), finishedAt: '' }
  else if (exitCode === 0) result = { exitCode: 0, reason: 'Completed', finishedAt: '' }
  else result = { exitCode, reason: 'Error', message: signal ? `terminated by signal ${signal}` : `exit code ${code}`, finishedAt: '' }
  result.finishedAt = new Date().toISOString()
  return result
}

/**
 * Puts what the step wrote to $CTL_OUTPUTS into `result`, each value redacted. A file that cannot be read as outputs
 * (malformed, too big, swapped for a link or a pipe) fails a step that succeeded, and is named in the message of one
 * that did not: outputs are never lost silently.
 * @param {StepExit} result
 * @param {{ path: string, maxBytes: number, maxKeys: number, maxKeyLength: number }} spec the step's outputs file and limits
 * @param {(text: string) => string} redact
 */
export function addOutputs(result, spec, redact) {
  const { outputs, problem } = takeOutputs(spec, redact)
  if (outputs) result.outputs = outputs
  if (!problem) return
  result.message = result.reason === 'Completed' ? `outputs: ${problem}` : `${result.message ?? result.reason}; outputs: ${problem}`
  if (result.reason === 'Completed') result.reason = 'Error'
}

// Step outputs as both runtimes read them: the parser of src/runtime/local/outputs.mjs (one implementation,
// plain JavaScript so that the step host runs it without a compile step) bound to ctl's limits.

import { OUTPUT_LIMITS } from '../manifest/limits.js'
import { formatOutputs, parseOutputs, type OutputLimits, type ParsedOutputs } from './local/outputs.mjs'

export { formatOutputs, parseOutputs, type OutputLimits, type ParsedOutputs }

/** The bytes of a termination message the kubelet keeps (it keeps the last ones of the file). */
export const KUBERNETES_MESSAGE_BYTES = 4096

/** The limits the step host is given (src/runtime/local/layout.ts SupervisorSpec.outputs). */
export function outputLimits(): OutputLimits {
  return { ...OUTPUT_LIMITS }
}

/** The end reason of a step whose outputs cannot be read: `outputs: line 3: …`. */
export function outputsProblem(problems: readonly string[]): string | undefined {
  return problems.length > 0 ? `outputs: ${problems.join('; ')}` : undefined
}

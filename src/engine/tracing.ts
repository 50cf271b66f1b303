// What the engine tells a tracer (src/controlplane/traces), when traces are on. The engine only marks the moments:
// a run is created (it gets a trace id), a run or an attempt reached a final state by a compare-and-set of this
// replica (exactly one replica wins each, so each span is exported once). The tracer reads the stored record and
// builds the span from it, with the stored times.
import { FINAL_RUN_STATES, FINAL_STEP_STATES, type Store } from '../store/types.js'

export interface RunTracing {
  /** The trace id of a run about to be created (32 lower-case hex). */
  newTraceId(): string
  /** The run reached a final state (stored). Must not throw; work is done in the background. */
  runEnded(runId: string): void
  /** The step run (one attempt) reached a final state (stored). Must not throw. */
  attemptEnded(stepRunId: string): void
}

/**
 * The store as the engine writes it, telling `tracing` of every final state an update stored. A wrapper rather than
 * a call at each of the dozen places that end a run or an attempt (a step's exit, a kill, a skip, an approval's
 * deadline…): none can be forgotten. Every other call goes to the store unchanged.
 */
export function tracedStore(store: Store, tracing: RunTracing): Store {
  const updateRun: Store['updateRun'] = async (id, patch, fromStates) => {
    const applied = await store.updateRun(id, patch, fromStates)
    if (applied && patch.state !== undefined && FINAL_RUN_STATES.includes(patch.state)) tracing.runEnded(id)
    return applied
  }
  const updateStepRun: Store['updateStepRun'] = async (id, patch, fromStates) => {
    const applied = await store.updateStepRun(id, patch, fromStates)
    if (applied && patch.state !== undefined && FINAL_STEP_STATES.includes(patch.state)) tracing.attemptEnded(id)
    return applied
  }
  const bound = new Map<PropertyKey, unknown>()
  return new Proxy(store, {
    get(target, key) {
      if (key === 'updateRun') return updateRun
      if (key === 'updateStepRun') return updateStepRun
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      // Methods run on the store itself (its private fields), bound once.
      let fn = bound.get(key)
      if (fn === undefined) bound.set(key, (fn = (value as (...args: unknown[]) => unknown).bind(target)))
      return fn
    },
  })
}

// The engine's public surface: the server imports from here.
export type { EngineApi, RunDetail, RuntimeSummary } from './api.js'
export { createEngine, type Engine, type EngineOptions } from './engine.js'
export { rfc3339 } from './run-queries.js'
export type { EngineLogger, StepLauncher, RunScope } from './context.js'
export { createStoreLauncher, StoreSecretProvider, volumeDir } from './launch.js'
export type { RunTracing } from './tracing.js'
export { attemptSpanId, newTraceId, runSpanId, traceparentOf } from './trace-ids.js'

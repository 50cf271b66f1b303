// The cap on an attempt's stored log (LocalRuntimeOptions.maxLogBytes, applied by the step host: step-log.mjs): its
// default and its range, checked here for the runtime and for the server's settings (flag, variable, config file).

export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024
/** Below this a log would hold little more than the last lines kept past the cap (64 KiB). */
const MIN_MAX_LOG_BYTES = 64 * 1024
const MAX_MAX_LOG_BYTES = 2 ** 40

/** Why `n` is no cap (undefined when it is one); `name` as the operator wrote it. */
export function maxLogBytesProblem(n: number, name = 'maxLogBytes'): string | undefined {
  if (Number.isSafeInteger(n) && n >= MIN_MAX_LOG_BYTES && n <= MAX_MAX_LOG_BYTES) return undefined
  return `${name} ${n} must be a whole number of bytes from ${MIN_MAX_LOG_BYTES} (64 KiB) to ${MAX_MAX_LOG_BYTES} (1 TiB)`
}

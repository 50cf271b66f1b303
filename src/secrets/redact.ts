// Redaction of secret values in what a run leaves behind: log lines, step messages, reasons.
// The matching itself lives with the step host (redact.mjs, plain JavaScript that runs without a
// compile step), so the lines it writes to disk and the messages the engine stores are redacted
// by the very same code.
import { REDACTED, createRedactor, redactionForms } from '../logs/redact.mjs'

export { REDACTED, createRedactor, redactionForms }

/** Replaces every secret value of `values` (and its encoded forms) in `text` with `[redacted]`. */
export function redactValues(text: string, values: readonly string[]): string {
  return createRedactor(redactionForms(values))(text)
}

/**
 * The redaction forms of each run the engine launched steps of, for what the engine stores
 * itself (log lines from a runtime, step messages, run reasons). Bounded: the oldest runs are
 * forgotten first (their steps ended long ago; what they produced is stored redacted already).
 */
export class RunRedactions {
  private readonly runs = new Map<string, { forms: Set<string>; redact: (text: string) => string }>()

  constructor(private readonly maxRuns = 2000) {}

  /** Adds forms (see redactionForms) for a run. */
  add(runId: string, forms: readonly string[]): void {
    const cur = this.runs.get(runId)
    if (cur && forms.every((f) => cur.forms.has(f))) {
      this.touch(runId, cur)
      return
    }
    const all = new Set([...(cur?.forms ?? []), ...forms])
    this.touch(runId, { forms: all, redact: createRedactor([...all]) })
  }

  /** For EngineOptions.redact. */
  readonly redact = (runId: string, text: string): string => {
    const run = this.runs.get(runId)
    return run ? run.redact(text) : text
  }

  has(runId: string): boolean {
    return this.runs.has(runId)
  }

  private touch(runId: string, entry: { forms: Set<string>; redact: (text: string) => string }): void {
    this.runs.delete(runId)
    this.runs.set(runId, entry)
    while (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value as string)
  }
}

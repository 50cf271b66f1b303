// Types of outputs.mjs for TypeScript code (the step host is plain JavaScript so it runs without a
// compile step; the Kubernetes runtime and tests use the same parser).

export interface OutputLimits {
  /** Bytes of the whole file. */
  maxBytes: number
  maxKeys: number
  maxKeyLength: number
}

export interface ParsedOutputs {
  /** Empty when there are problems: a malformed file yields nothing rather than part of it. */
  outputs: Record<string, string>
  /** `line N: …`, at most a few; empty when the whole text was read. */
  problems: string[]
}

/** Reads `KEY=VALUE` and `KEY<<DELIM` … `DELIM` lines; later keys override earlier ones. */
export declare function parseOutputs(text: string, limits: OutputLimits): ParsedOutputs

/** The text parseOutputs reads back as `outputs`. */
export declare function formatOutputs(outputs: Record<string, string>): string

/** A size as people write it (`64 MiB`, `256 KiB`, `1000 bytes`). */
export declare function sizeText(n: number): string

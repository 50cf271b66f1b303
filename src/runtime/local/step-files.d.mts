// Types of the outputs readers of step-files.mjs for TypeScript code (tests); the rest of the file is the step host's own.

import type { OutputLimits } from './outputs.mjs'

/** The outputs file's text (at most maxBytes + 1 bytes), read without following a link or blocking on a pipe. */
export declare function readOutputsFile(file: string, maxBytes: number): { text?: string; problem?: string }

/** The outputs a step left in its file, each value redacted, or why they cannot be read. */
export declare function takeOutputs(spec: OutputLimits & { path: string }, redact: (text: string) => string): { outputs?: Record<string, string>; problem?: string }

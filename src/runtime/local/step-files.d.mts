// Types of the outputs readers of step-files.mjs for TypeScript code (tests); the rest of the file is the step host's own.

import type { OutputLimits } from './outputs.mjs'
import type { StepExit } from '../types.js'

/** The outputs file's text (at most maxBytes + 1 bytes), read without following a link or blocking on a pipe. */
export declare function readOutputsFile(file: string, maxBytes: number): { text?: string; problem?: string }

/** The outputs a step left in its file, each value redacted, or why they cannot be read. */
export declare function takeOutputs(spec: OutputLimits & { path: string }, redact: (text: string) => string): { outputs?: Record<string, string>; problem?: string }

/** How a log record holding the step's exit begins; no line of the step's output can begin so. */
export declare const EXIT_RECORD_PREFIX: string

/** The exit as a log record, with its newline. */
export declare function exitRecord(exit: StepExit): string

/** Appends an exit record to an existing log (never creates it), on a line of its own. */
export declare function appendExitRecord(file: string, exit: StepExit): void

/** The folder of every attempt's log, in the state folder. */
export declare const LOGS_FOLDER: string
/** The log file of an attempt, in the logs folder. */
export declare function logFileOf(attemptDir: string): string
/** Where hosts of the last version put an attempt's log: beside its folder. */
export declare function besideLogOf(attemptDir: string): string

/** Splits a byte stream into log lines; a line longer than maxLineBytes is cut, the rest of it dropped. */
export declare class Splitter {
  constructor(stream: 'stdout' | 'stderr', line: (stream: 'stdout' | 'stderr', time: string, buf: Buffer, truncated: boolean) => string, maxLineBytes: number)
  /** The complete lines of what came so far, as NDJSON. */
  push(chunk: Buffer): string
  flush(): string
}

/** Makes `entry` with `create`, and the run folder it lies in when that is missing (retried while cleanup races it). */
export declare function inRunFolder(entry: string, create: () => void, folderFirst?: boolean): void

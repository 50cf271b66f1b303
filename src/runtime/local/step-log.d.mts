// Types of step-log.mjs for TypeScript code (tests); the writer itself is the step host's own.

/** Bytes of the step's last lines kept in memory once its log reached its cap. */
export declare const TAIL_BYTES: number

/** The last lines of a step's output within TAIL_BYTES, and what was dropped before them. */
export interface Tail {
  /** Records held; those before `first` were dropped (empty strings). */
  recs: string[]
  first: number
  droppedLines: number
  droppedBytes: number
  text(): string
}

/** One attempt's log, written by the step host: capped, and never throwing on a failed write. */
export declare class StepLog {
  constructor(maxBytes: number, onFailure: (problem: string) => void)
  fd: number
  bytes: number
  tail: Tail | undefined
  /** One record of the step's output: itself while the log is under its cap, else '' (kept in the tail). */
  keep(rec: string, raw: number): string
  /** Appends records of the step's output; true when they are in the log now. */
  append(out: string): boolean
  /** The handle as the log's first record, with the output that came before it. */
  writeHandle(handle: unknown): boolean
  /** The exit as the log's last record, making room when the disk is full; false when it could not be written. */
  writeExit(exit: { exitCode: number | null; reason: string; message?: string; finishedAt: string; outputs?: Record<string, string> }): boolean
  close(): void
}

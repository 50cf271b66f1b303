// Removing ended attempts' logs and folders (the local runtime's cleanup), off the path of the steps that start next.

import fs from 'node:fs'
import path from 'node:path'
import { LOG_FILE, attemptLog, type LocalHandleData } from './files.js'

/** Attempts removed in one turn of the event loop at most; the rest wait for the next turn. */
const REMOVALS_PER_TURN = 32
/**
 * Started attempts remembered at most (see live): past it the oldest run's are forgotten. One forgotten too early
 * costs a failed rmdir of its run folder; one never forgotten kept its run folder on disk and its entry in memory.
 */
export const MAX_LIVE = 4096

type Attempt = Pick<LocalHandleData, 'attemptDir' | 'logAt' | 'folder'>

/** The attempt has something in its run folder: its own folder, or a log of an older host (beside or inside it). */
export function usesRunFolder(attempt: Pick<Attempt, 'logAt' | 'folder'>): boolean {
  return attempt.folder || attempt.logAt !== 'logs'
}

/** Removes the folder made for a start that was refused (config files, maybe secrets), and its run folder if empty. */
export function removeRefusedAttemptDir(attemptDir: string): void {
  fs.rmSync(attemptDir, { recursive: true, force: true })
  try {
    fs.rmdirSync(path.dirname(attemptDir))
  } catch {}
}

/**
 * Removes ended attempts in batches, once per turn of the event loop: the attempts of a DAG's layer end together,
 * and their run folder is then tried once per batch rather than once per attempt (it is not empty while steps of the
 * run remain). The calls are synchronous: a few of them on a local disk cost less CPU than the thread pool's round
 * trips (measured: less than half), and a batch is bounded. Nothing is deferred past the next turn: a crash loses at
 * most one batch, as it lost the removals in flight before.
 */
export class AttemptDirRemover {
  private queue: { attempt: Attempt; done: () => void; failed: (e: unknown) => void }[] = []
  /** Attempts this runtime started and has not cleaned up yet, by run folder: while there are any, it is not empty. */
  private live = new Map<string, Set<string>>()
  private liveCount = 0

  /**
   * An attempt started with something in its run folder (usesRunFolder): the folder is not tried for removal before
   * the attempt is cleaned up.
   */
  started(attemptDir: string): void {
    const run = path.dirname(attemptDir)
    let set = this.live.get(run)
    if (!set) this.live.set(run, (set = new Set()))
    if (set.has(attemptDir)) return
    set.add(attemptDir)
    // Bounded: an attempt this runtime started may be cleaned up by another (a replica that took its run over).
    if (++this.liveCount > MAX_LIVE) {
      const [oldest, kept] = this.live.entries().next().value!
      this.live.delete(oldest)
      this.liveCount -= kept.size
      // Its last removal may have skipped the folder for it: tried now, as that removal would have (in use: not empty).
      try {
        fs.rmdirSync(oldest)
      } catch {}
    }
  }

  /** An attempt this runtime no longer follows nor cleans up (another took it over): its run folder is not held for it. */
  released(attemptDir: string): void {
    const run = path.dirname(attemptDir)
    const set = this.live.get(run)
    if (!set?.delete(attemptDir)) return
    this.liveCount--
    if (set.size === 0) this.live.delete(run)
  }

  /** Started attempts not cleaned up nor released yet. */
  get pending(): number {
    return this.liveCount
  }

  add(attempt: Attempt): Promise<void> {
    this.released(attempt.attemptDir)
    return new Promise((done, failed) => {
      if (this.queue.length === 0) setImmediate(() => this.flush())
      this.queue.push({ attempt, done, failed })
    })
  }

  private flush(): void {
    const batch = this.queue.splice(0, REMOVALS_PER_TURN)
    if (this.queue.length > 0) setImmediate(() => this.flush())
    const runDirs = new Set<string>()
    for (const { attempt, done, failed } of batch) {
      const dir = attempt.attemptDir
      // A run folder is there only for an attempt folder, or a log of an older host.
      if (usesRunFolder(attempt)) runDirs.add(path.dirname(dir))
      // The log in the logs folder or beside the folder; a log inside it (older runtimes) goes with the folder.
      if (attempt.logAt !== 'inside') unlinkQuietly(attemptLog(attempt))
      // A folder of this runtime holds what the step needed (config files, mount points); one of an older runtime
      // usually its log only, removed here.
      if (!attempt.folder || (attempt.logAt === 'inside' && removeAttemptDirSync(dir))) done()
      // Something else in it: the recursive remove, off this thread, then the run folder's turn.
      else {
        fs.promises
          .rm(dir, { recursive: true, force: true })
          .then(() => fs.promises.rmdir(path.dirname(dir)).catch(() => {}))
          .then(done, failed)
      }
    }
    // Dropped once empty; other steps may still use it. Not tried while attempts this runtime started there are not
    // cleaned up (a DAG's next layer runs while its last one is cleaned up): a failed rmdir costs an error object.
    for (const dir of runDirs) {
      if (this.live.has(dir)) continue
      try {
        fs.rmdirSync(dir)
      } catch {}
    }
  }
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file)
  } catch {}
}

/**
 * Removes an attempt folder of an older runtime that holds its log only (or is gone); false when anything else is
 * in it: config files, exit.json, handle.json. Unlinking files that may be absent would cost a failed call and an
 * error object each; the recursive remove takes them when they are there.
 */
function removeAttemptDirSync(dir: string): boolean {
  unlinkQuietly(path.join(dir, LOG_FILE))
  try {
    fs.rmdirSync(dir)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT'
  }
  return true
}

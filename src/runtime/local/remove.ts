// Removing ended attempts' folders (the local runtime's cleanup), off the path of the steps that start next.

import fs from 'node:fs'
import path from 'node:path'
import { LOG_FILE } from './files.js'

/**
 * What an attempt folder holds when the step started and no config files were written: removed one by one, no tree
 * walk. Only the log: unlinking files that are usually absent (exit.json and handle.json of older hosts, outputs)
 * costs a failed call and an error object per step; when they are there the folder is not empty, and the recursive
 * remove takes them.
 */
const ATTEMPT_FILES = [LOG_FILE]
/** Folders removed in one turn of the event loop at most; the rest wait for the next turn. */
const REMOVALS_PER_TURN = 32

/**
 * Removes ended attempts' folders in batches, once per turn of the event loop: the attempts of a DAG's layer end
 * together, and their run folder is then tried once per batch rather than once per attempt (it is not empty while
 * steps of the run remain). The calls are synchronous: three of them on a local disk cost less CPU than the thread
 * pool's round trips (measured: less than half), and a batch is bounded. Nothing is deferred past the next turn: a
 * crash loses at most one batch, as it lost the removals in flight before.
 */
export class AttemptDirRemover {
  private queue: { dir: string; done: () => void; failed: (e: unknown) => void }[] = []

  add(dir: string): Promise<void> {
    return new Promise((done, failed) => {
      if (this.queue.length === 0) setImmediate(() => this.flush())
      this.queue.push({ dir, done, failed })
    })
  }

  private flush(): void {
    const batch = this.queue.splice(0, REMOVALS_PER_TURN)
    if (this.queue.length > 0) setImmediate(() => this.flush())
    const runDirs = new Set<string>()
    for (const item of batch) {
      runDirs.add(path.dirname(item.dir))
      if (removeAttemptDirSync(item.dir)) item.done()
      // Something else in it: the recursive remove, off this thread, then the run folder's turn.
      else {
        fs.promises
          .rm(item.dir, { recursive: true, force: true })
          .then(() => fs.promises.rmdir(path.dirname(item.dir)).catch(() => {}))
          .then(item.done, item.failed)
      }
    }
    // Dropped once empty; other steps may still use it.
    for (const dir of runDirs) {
      try {
        fs.rmdirSync(dir)
      } catch {}
    }
  }
}

/** Removes an attempt folder that holds its known files only (or is gone); false when anything else is in it. */
function removeAttemptDirSync(dir: string): boolean {
  for (const f of ATTEMPT_FILES) {
    try {
      fs.unlinkSync(path.join(dir, f))
    } catch {}
  }
  try {
    fs.rmdirSync(dir)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT'
  }
  return true
}

// Types of spawn-client.mjs for TypeScript code (tests); the step host itself is plain JavaScript.

import type { EventEmitter } from 'node:events'
import type { Readable } from 'node:stream'

export interface ChildOptions {
  command: string
  args: string[]
  env: Record<string, string>
  cwd: string
  uid?: number
  gid?: number
  /** The cgroup folder the child is placed in before it runs. */
  cgroup?: string
  /** A pipe on fd 3 (bwrap's --info-fd). */
  info: boolean
  /** Data on fds 4.. (needs info). */
  fds: Array<string | Buffer>
}

/** A started step process: 'spawn', 'error' (not started), 'exit' (code, signal), 'close', 'lost' (message). */
export interface Child extends EventEmitter {
  pid: number | undefined
  stdout: Readable | null
  stderr: Readable | null
  info: Readable | null
}

/** Chooses how steps start: ctl-spawner's path, or '' for Node's spawn. */
export declare function useSpawner(bin: string): void
export declare function spawnChild(o: ChildOptions): Child

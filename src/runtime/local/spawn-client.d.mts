// Types of spawn-client.mjs for TypeScript code (tests); the step host itself is plain JavaScript.

import type { EventEmitter } from 'node:events'

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
  /** command is ctl-sandbox, compiled into the spawner: run in its forked child without an exec (Node's spawn execs it). */
  builtin?: boolean
}

/** A pipe of the child: 'data' (Buffers, strings after setEncoding), then 'close'. */
export interface ChildStream extends EventEmitter {
  destroy(): void
  setEncoding(encoding: BufferEncoding): unknown
}

/** A started step process: 'spawn', 'error' (not started), 'exit' (code, signal), 'close', 'lost' (message). */
export interface Child extends EventEmitter {
  pid: number | undefined
  stdout: ChildStream | null
  stderr: ChildStream | null
  info: ChildStream | null
}

/** Chooses how steps start: ctl-spawner's path, or '' for Node's spawn. */
export declare function useSpawner(bin: string): void
export declare function spawnChild(o: ChildOptions): Child

// Control-plane replicas as real child processes for the replica fault tests: each runs the BUILT
// startControlPlane (fixtures/replica-entry.mjs) with its own replica id, on one shared store (a URL,
// so the same test runs on SQLite and PostgreSQL) and, for the local runtime, one shared data folder.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { CtlClient } from '../../src/client/client.js'
import { isPidAlive } from '../../src/liveness.js'
import type { ControlPlaneOptions } from '../../src/controlplane/control-plane.js'
import { ADMIN_KEY_FILE } from '../../src/controlplane/process.js'
import { repoRoot } from '../cli/helpers.js'
import { waitFor } from './helpers.js'

const ENTRY = join(repoRoot, 'test', 'server', 'fixtures', 'replica-entry.mjs')

export interface Replica {
  id: string
  pid: number
  url: string
  client: CtlClient
  /** The fault: SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>
  /** Graceful stop (SIGTERM → close), waited for. */
  stop(): Promise<void>
}

export function builtDist(): boolean {
  return existsSync(join(repoRoot, 'dist', 'src', 'controlplane', 'control-plane.js'))
}

/** Starts one replica; resolves once it listens. Its output goes to `<logDir>/<id>.log`. */
export async function startReplica(id: string, opts: ControlPlaneOptions, logDir: string): Promise<Replica> {
  const log = createWriteStream(join(logDir, `${id}.log`), { flags: 'a' })
  const child: ChildProcess = spawn(process.execPath, [ENTRY, JSON.stringify({ port: 0, replicaId: id, ...opts })], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env })
  child.stderr!.pipe(log)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const first = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.once('line', (line) => resolve(JSON.parse(line) as { url: string; pid: number }))
    child.once('exit', (code) => reject(new Error(`replica ${id} exited with code ${code} before listening; see ${join(logDir, `${id}.log`)}`)))
  })
  const token = readFileSync(join(opts.dataDir, ADMIN_KEY_FILE), 'utf8').trim()
  const gone = async () => {
    await exited
    await waitFor(`replica ${id} to be gone`, async () => !isPidAlive(first.pid), (dead) => dead)
  }
  return {
    id,
    pid: first.pid,
    url: first.url,
    client: new CtlClient({ baseUrl: first.url, apiKey: token }),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await gone()
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await gone()
    },
  }
}

/** Three replicas: the first alone (it creates the tenant admin and the master key), then the other two. */
export async function startReplicas(base: Omit<ControlPlaneOptions, 'replicaId'>, logDir: string, prefix: string): Promise<Replica[]> {
  const first = await startReplica(`${prefix}-1`, base, logDir)
  const rest = await Promise.all([2, 3].map((n) => startReplica(`${prefix}-${n}`, base, logDir)))
  return [first, ...rest]
}

/** Numbered lines as a step prints them. */
export function numbered(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix} line ${i + 1}`)
}

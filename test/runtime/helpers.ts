// Shared helpers of the runtime tests: build pods, launch them, collect what follow delivers.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node'
import { logFileOf } from '../../src/runtime/local/files.js'
import type { LogBatch, LogLine, Runtime, RuntimeHandle, StepExit, StepLaunch } from '../../src/runtime/types.js'

export const hasBwrap = fs.existsSync('/usr/bin/bwrap')

export function tempDir(prefix = 'ctl-rt-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/**
 * Folders to remove and step hosts a test stopped (SIGSTOP), both cleaned up after the file's tests: a host still
 * there (the test failed) is let go on and ended. For a file's top level (registers afterAll).
 */
export function stoppedHostsCleanup(): { dirs: string[]; hosts: number[] } {
  const dirs: string[] = []
  const hosts: number[] = []
  afterAll(() => {
    for (const pid of hosts) {
      try {
        process.kill(pid, 'SIGCONT')
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
    dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }))
  })
  return { dirs, hosts }
}

export function pod(container: Partial<V1Container>, extra: { volumes?: V1Volume[]; activeDeadlineSeconds?: number; grace?: number } = {}): V1Pod {
  return {
    metadata: { name: 'wf-step-pod', namespace: 'public', labels: { app: 'ctl' } },
    spec: {
      containers: [{ name: 'main', image: 'busybox:1', ...container }],
      volumes: extra.volumes,
      activeDeadlineSeconds: extra.activeDeadlineSeconds,
      terminationGracePeriodSeconds: extra.grace ?? 1,
      restartPolicy: 'Never',
    },
  }
}

/** `sh -c script` as a pod. */
export function shPod(script: string, extra: Parameters<typeof pod>[1] & { container?: Partial<V1Container> } = {}): V1Pod {
  return pod({ command: ['sh', '-c', script], ...extra.container }, extra)
}

let counter = 0
export function launch(p: V1Pod, more: Partial<Omit<StepLaunch, 'pod'>> = {}): StepLaunch {
  return {
    key: { runId: `run${process.pid}x${++counter}`, step: 'main', attempt: 0 },
    pod: p,
    secretData: {},
    configData: {},
    volumeDirs: {},
    ...more,
  }
}

export interface Collected {
  lines: LogLine[]
  batches: LogBatch[]
  exit: StepExit
}

export async function collect(rt: Runtime, handle: RuntimeHandle, fromOffset = 0): Promise<Collected> {
  const batches: LogBatch[] = []
  const exit = await rt.follow(handle, fromOffset, async (b) => {
    batches.push(b)
  })
  return { lines: batches.flatMap((b) => b.lines), batches, exit }
}

export async function run(rt: Runtime, l: StepLaunch): Promise<Collected & { handle: RuntimeHandle }> {
  const handle = await rt.start(l)
  return { handle, ...(await collect(rt, handle)) }
}

export const texts = (lines: LogLine[]) => lines.map((l) => l.text)

/** Every file under dir whose bytes contain needle. */
export function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p)
    }
  }
  walk(dir)
  return hits
}

export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/**
 * Starts `p` (a step that prints `up` first) on `rt` and waits for that line; its host is noted in `hosts`
 * (stoppedHostsCleanup), for a test that stops it.
 */
export async function startedUp(rt: Runtime, p: V1Pod, hosts: number[], more: Partial<Omit<StepLaunch, 'pod'>> = {}) {
  const handle = await rt.start(launch(p, more))
  const attemptDir = handle.data.attemptDir as string
  const host = { pid: handle.data.supervisorPid as number, start: handle.data.supervisorStart as string }
  hosts.push(host.pid)
  await until(() => loggedTexts(attemptDir).includes('up'), 'the step to start')
  return { handle, attemptDir, host, log: logFileOf(attemptDir) }
}

/** The output lines in an attempt's log file so far (the host's handle and exit records are not output). */
export function loggedTexts(attemptDir: unknown): string[] {
  let raw: string
  try {
    raw = fs.readFileSync(logFileOf(attemptDir as string), 'utf8')
  } catch {
    return []
  }
  const out: string[] = []
  for (const line of raw.split('\n')) {
    if (!line) continue
    const v = JSON.parse(line) as { h?: unknown; x?: string }
    if (v.h === undefined && typeof v.x === 'string') out.push(v.x)
  }
  return out
}

/** Processes whose command line holds `marker` (e.g. a step's hostname, which the sandbox launcher, bwrap or ctl-sandbox, gets as an argument), with their parent. */
export function processesWith(marker: string): { pid: number; ppid: number; cmd: string }[] {
  const out: { pid: number; ppid: number; cmd: string }[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ')
      if (!cmd.includes(marker)) continue
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8')
      out.push({ pid: Number(name), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), cmd })
    } catch {}
  }
  return out
}

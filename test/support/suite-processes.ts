// Finding the processes a test run started, by its marker: the run's id in the environment
// (CTL_TEST_SUITE, inherited by every child that keeps its parent's environment) or the run's own
// temp folder in the command line or working directory (the step host is started with an empty
// environment, but its command line and cwd name its state folder, which lies under the run's
// TMPDIR; the sandbox launcher's command line, bwrap's or an exec'd ctl-sandbox's, names the attempt folder it
// binds; a ctl-sandbox run in ctl-spawner's forked child has the spawner's command line, and is found as its child).
// Children of a marked process are marked too. Nothing else is: a concurrent, unrelated run has another id and another folder.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'

export const SUITE_ENV = 'CTL_TEST_SUITE'

export interface SuiteMarker {
  /** The run's id (CTL_TEST_SUITE). */
  id: string
  /** The run's own folder (TMPDIR and CTL_HOME lie under it). */
  root: string
}

export interface SuiteProcess {
  pid: number
  ppid: number
  cmdline: string
}

interface ProcInfo extends SuiteProcess {
  zombie: boolean
  marked: boolean
}

function read(file: string): Buffer | undefined {
  try {
    return readFileSync(file)
  } catch {
    return undefined // gone meanwhile, or not ours to read (another user's, as non-root)
  }
}

function info(pid: number, marker: SuiteMarker): ProcInfo | undefined {
  const stat = read(`/proc/${pid}/stat`)?.toString('utf8')
  if (!stat) return undefined
  // The command name is in parentheses and may hold spaces: the fields after it are what counts.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ppid = Number(fields[1])
  const zombie = fields[0] === 'Z' || fields[0] === 'X'
  const cmdline = (read(`/proc/${pid}/cmdline`)?.toString('utf8') ?? '').replace(/\0+$/, '').replace(/\0/g, ' ')
  const env = read(`/proc/${pid}/environ`)
  let cwd = ''
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`)
  } catch {
    // not ours to look at
  }
  const inRoot = (p: string): boolean => p === marker.root || p.startsWith(marker.root + '/')
  const marked = (env !== undefined && (`\0${env.toString('utf8')}`).includes(`\0${SUITE_ENV}=${marker.id}\0`))
    || cmdline.includes(marker.root)
    || inRoot(cwd)
  return { pid, ppid, cmdline, zombie, marked }
}

/** Processes never reported: the test runner itself (it carries the marker) and its direct children (its workers, its esbuild). */
export interface Exclusions {
  pids: readonly number[]
  /** Direct children of these are left out, but not their descendants: what a worker started is what the check is for. */
  childrenOf: readonly number[]
}

const RUNNER: Exclusions = { pids: [process.pid], childrenOf: [process.pid] }

/** Live (non-zombie) processes carrying the marker or descending from one that does, but for `exclude`. */
export function findSuiteProcesses(marker: SuiteMarker, exclude: Exclusions = RUNNER): SuiteProcess[] {
  const all = new Map<number, ProcInfo>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const p = info(Number(name), marker)
    if (p) all.set(p.pid, p)
  }
  const pids = new Set(exclude.pids)
  const parents = new Set(exclude.childrenOf)
  // Ours: marked, or a descendant of a marked process (a child started with an environment of its own).
  const verdict = new Map<number, boolean>()
  const ours = (pid: number, depth = 0): boolean => {
    const known = verdict.get(pid)
    if (known !== undefined) return known
    const p = all.get(pid)
    const v = p !== undefined && (p.marked || (p.ppid > 1 && depth < 512 && ours(p.ppid, depth + 1)))
    verdict.set(pid, v)
    return v
  }
  return [...all.values()]
    .filter((p) => !p.zombie && p.pid !== process.pid && !pids.has(p.pid) && !parents.has(p.ppid) && ours(p.pid))
    .map(({ pid, ppid, cmdline }) => ({ pid, ppid, cmdline }))
    .sort((a, b) => a.pid - b.pid)
}

/** Polls until no marked process is left or `graceMs` passed; returns the survivors. */
export async function waitForSuiteProcesses(marker: SuiteMarker, graceMs: number, exclude?: Exclusions): Promise<SuiteProcess[]> {
  const deadline = Date.now() + graceMs
  for (;;) {
    const left = findSuiteProcesses(marker, exclude)
    if (left.length === 0 || Date.now() >= deadline) return left
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** SIGKILL to each (a stuck sandbox ignores SIGTERM); the ones already gone are fine. */
export function killAll(procs: readonly SuiteProcess[]): void {
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGKILL')
    } catch {
      // exited meanwhile
    }
  }
}

export function describeProcesses(procs: readonly SuiteProcess[]): string {
  return procs.map((p) => `  pid ${p.pid} (parent ${p.ppid}): ${p.cmdline.length > 400 ? p.cmdline.slice(0, 400) + '…' : p.cmdline || '(no command line)'}`).join('\n')
}

// Whether the process a pid file names (the control plane, a step host) still runs. `kill(pid, 0)` alone is not enough: a process
// killed with SIGKILL whose parent has not reaped it yet is a zombie that still answers signals,
// and after a reboot or a long time the pid may belong to another process. Linux's /proc tells
// both apart; elsewhere the signal probe is all there is.
import { readFileSync } from 'node:fs'

interface ProcStat {
  /** One letter: R, S, D, Z (zombie), X (dead), T, ... */
  state: string
  /** Clock ticks after boot at which the process started: with the pid, it names one process. */
  startTime: string
}

/** /proc/PID/stat, or undefined where there is no /proc or no such process. */
function procStat(pid: number): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const state = fields[0]
  const startTime = fields[19]
  return state && startTime ? { state, startTime } : undefined
}

/** The start time of a process as /proc gives it (to record next to its pid); undefined without /proc. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.startTime
}

/**
 * True when `pid` names a running process that is not a zombie and, when `startTime` (see
 * processStartTime) is given and /proc can tell, the very process that was recorded.
 */
export function isPidAlive(pid: number, startTime?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    // EPERM: it exists but belongs to someone else; /proc still tells what it is.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const stat = procStat(pid)
  if (!stat) return true // no /proc here: the signal probe is the answer
  if (stat.state === 'Z' || stat.state === 'X') return false
  return startTime === undefined || stat.startTime === startTime
}

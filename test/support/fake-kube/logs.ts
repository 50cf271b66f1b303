// Container log buffers with RFC3339Nano timestamps, plus followers that end when the container does.

export interface LogLine {
  /** Nanoseconds since the epoch (unique and increasing across the fake). */
  ns: bigint
  time: string
  text: string
}

type Follower = { onLine: (l: LogLine) => void; onEnd: () => void }

interface ContainerLog {
  lines: LogLine[]
  ended: boolean
  followers: Set<Follower>
}

let lastNs = 0n

/** Current time as unique nanoseconds: lines get strictly increasing timestamps, so resume by time is exact. */
export function nowNs(): bigint {
  let n = BigInt(Date.now()) * 1_000_000n
  if (n <= lastNs) n = lastNs + 1n
  lastNs = n
  return n
}

export function formatRfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n)
  const secs = new Date(ms).toISOString().slice(0, 19)
  return `${secs}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`
}

/** Parses RFC3339 with optional fraction (any precision) to nanoseconds; undefined when invalid. */
export function parseRfc3339(s: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s)
  if (!m) return undefined
  const base = Date.parse(`${m[1]}${m[3]}`)
  if (Number.isNaN(base)) return undefined
  return BigInt(base) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))
}

export class LogBook {
  private readonly logs = new Map<string, ContainerLog>()

  private entry(podUid: string, container: string): ContainerLog {
    const k = `${podUid}/${container}`
    let e = this.logs.get(k)
    if (!e) this.logs.set(k, (e = { lines: [], ended: false, followers: new Set() }))
    return e
  }

  write(podUid: string, container: string, text: string): LogLine {
    const ns = nowNs()
    const line = { ns, time: formatRfc3339Nano(ns), text }
    const e = this.entry(podUid, container)
    e.lines.push(line)
    for (const f of e.followers) f.onLine(line)
    return line
  }

  end(podUid: string, container: string): void {
    const e = this.entry(podUid, container)
    if (e.ended) return
    e.ended = true
    for (const f of e.followers) f.onEnd()
    e.followers.clear()
  }

  lines(podUid: string, container: string): LogLine[] {
    return [...this.entry(podUid, container).lines]
  }

  ended(podUid: string, container: string): boolean {
    return this.entry(podUid, container).ended
  }

  /** Follows new lines; returns an unsubscribe. onEnd is called at once when already ended. */
  follow(podUid: string, container: string, f: Follower): () => void {
    const e = this.entry(podUid, container)
    if (e.ended) {
      f.onEnd()
      return () => {}
    }
    e.followers.add(f)
    return () => e.followers.delete(f)
  }
}

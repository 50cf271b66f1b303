// The issue's minimal bubblewrap sandbox, shared by the benchmarks that compare against it (not a benchmark itself:
// run.mjs picks up *.bench.mjs only): read-only /usr /bin /lib /lib64 /etc, --dev /dev --proc /proc --tmpfs /tmp
// --unshare-pid, running `true`. ctl's own sandbox adds namespaces (user, ipc, uts, cgroup), seccomp and more mounts.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'

export const BWRAP = '/usr/bin/bwrap'
const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`

/** The command line as a shell word list; a path that is a symlink here (/bin -> usr/bin) is recreated as one, not bound. */
export function minimalBwrap() {
  const args = []
  for (const p of ['/usr', '/bin', '/lib', '/lib64', '/etc']) {
    let st
    try {
      st = fs.lstatSync(p)
    } catch {
      continue
    }
    if (st.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(p), p)
    else args.push('--ro-bind', p, p)
  }
  args.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--unshare-pid', '--', 'true')
  return [BWRAP, ...args].map(quote).join(' ')
}

/**
 * How many of these sandboxes this machine completes per minute with nothing else to do: `count` of them started by
 * xargs (a small C program, the cheapest spawner there is) `parallel` at a time. The ceiling any sandboxed run rate
 * can reach here, whatever runs around the sandbox.
 */
export function sandboxesPerMinute(count, parallel) {
  const start = process.hrtime.bigint()
  const r = spawnSync('sh', ['-c', `seq ${count} | xargs -P ${parallel} -I{} ${minimalBwrap()}`], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
  if (r.status !== 0) throw new Error(`the minimal sandbox fails: ${r.stderr}`)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  return Math.round((count / ms) * 60_000)
}

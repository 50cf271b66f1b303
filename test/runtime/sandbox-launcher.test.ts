// ctl's own sandbox launcher (ctl-sandbox, from sandbox-launcher.c) kept honest against bubblewrap. It takes
// exactly bwrap's command line for the options ctl's layout emits; here real argument lists from the real layout
// code (bubblewrapLayout, describeSandboxHost) run once under bwrap and once under ctl-sandbox, the same argv
// after the binary, started the way the step host starts them (the spawner's memfds on fds 4.., the seccomp
// filter after them, the info pipe on fd 3, as the step's host user), and a probe inside prints what the step
// sees: the two outputs must be equal. Then hostile probes: what a step's command tries against its sandbox.
//
// The binary: $CTL_SANDBOX_BIN, else the build's dist/native/ctl-sandbox. Missing on CI: a failure, not a skip.

import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { V1Container, V1Volume } from '@kubernetes/client-node'
import { packageRoot } from '../../src/package-root.js'
import { checkPathsInVolumes, type MadeFolder } from '../../src/runtime/local/beneath.js'
import { bubblewrapLayout, describeSandboxHost, type SandboxHost } from '../../src/runtime/local/bwrap.js'
import { spawnerPath } from '../../src/runtime/local/host-start.js'
import type { Layout } from '../../src/runtime/local/layout.js'
import { NETWORK_ANNOTATION, planStep, type StepPlan } from '../../src/runtime/local/pod.js'
import { stepUserOf } from '../../src/runtime/local/sandbox.js'
import { spawnChild, useSpawner, type Child } from '../../src/runtime/local/spawn-client.mjs'
import type { StepLaunch } from '../../src/runtime/types.js'
import { hasBwrap, launch, pod, processesWith, tempDir, until } from './helpers.js'

const named = process.env.CTL_SANDBOX_BIN
const launcherBin = named ? path.resolve(named) : path.join(packageRoot(), 'dist', 'native', 'ctl-sandbox')
const launcherBuilt = fs.existsSync(launcherBin)
const BWRAP = '/usr/bin/bwrap'
/** Who the sandboxes run as on the host: the step user of a root control plane (nobody), else this user, as in production. */
const stepUser = stepUserOf({})
/**
 * Sandboxes start as the step host starts them, through ctl-spawner (spawner.c, same build): its memfds carry the
 * data on fds 4.. . Node's spawn (the host's fallback) would hand the launcher sockets and whatever fds the test
 * worker leaks, which is not what a launcher sees in production.
 */
const spawnerBin = spawnerPath()
const missing = [
  ...(launcherBuilt ? [] : [`${launcherBin} is missing (npm run build makes dist/native/ctl-sandbox; CTL_SANDBOX_BIN names another)`]),
  ...(spawnerBin ? [] : ['ctl-spawner is missing (npm run build makes dist/native/ctl-spawner; CTL_SPAWNER names another)']),
].join('; ')

if (missing) {
  describe('ctl-sandbox', () => {
    // On CI a missing binary is a broken build; locally the reason is in the skipped test's name.
    it.skipIf(process.env.CI !== 'true')(`is built: ${missing}`, () => {
      expect.fail(missing)
    })
  })
}

/**
 * The launchers compared: bwrap is the reference. ctl-sandbox runs two ways, both compared: exec'd by the spawner (as
 * with Node's spawn), and compiled into this build's ctl-spawner, run in its forked child without an exec (what the
 * step host does, F_SANDBOX in spawner.c).
 */
type Launcher = 'bwrap' | 'ctl-sandbox' | 'ctl-sandbox in ctl-spawner'
const binOf = (l: Launcher) => (l === 'bwrap' ? BWRAP : launcherBin)
const OURS: Launcher[] = ['ctl-sandbox', 'ctl-sandbox in ctl-spawner']
/** Where a test runs them all, bwrap first, when it is installed. */
const launchers: Launcher[] = hasBwrap ? ['bwrap', ...OURS] : OURS

interface Ran {
  out: string
  err: string
  info: string
  code: number | null
  signal: string | null
}

interface Started {
  child: Child
  /** What fd 3 carried, once it closed. */
  info: Promise<string>
  /** Resolves on the first stdout line that equals the given text. */
  line(text: string): Promise<void>
  /** The launcher (or its parent shell) exited: [code, signal]. Unlike `done`, needs no end of its pipes. */
  exited: Promise<[number | null, string | null]>
  done: Promise<Ran>
}

/**
 * Starts `layout` under `launcher` as the step host does: same env, fds 4.. (fd data, then the seccomp filter), info
 * pipe, host user. `parent`: a shell between the spawner and the launcher.
 */
function start(launcher: Launcher, layout: Layout, parent = false): Started {
  const fds: Array<string | Buffer> = [...layout.spec.fdData]
  if (layout.spec.seccomp) fds.push(Buffer.from(layout.spec.seccomp, 'base64'))
  const command = parent ? { command: '/bin/sh', args: ['-c', '"$0" "$@" & wait', binOf(launcher), ...layout.spec.args] } : { command: binOf(launcher), args: layout.spec.args }
  const builtin = launcher === 'ctl-sandbox in ctl-spawner' && !parent
  const child = spawnChild({ ...command, env: layout.spec.env, cwd: '/', ...stepUser, info: true, fds, builtin })
  let out = ''
  let err = ''
  let info = ''
  const waiting: { text: string; resolve: () => void }[] = []
  let infoDone: (s: string) => void = () => {}
  const infoP = new Promise<string>((r) => (infoDone = r))
  const exited = new Promise<[number | null, string | null]>((r) => child.on('exit', (code, signal) => r([code, signal])))
  const done = new Promise<Ran>((resolve, reject) => {
    let exit: [number | null, string | null] = [null, null]
    child.on('error', reject)
    child.on('spawn', () => {
      child.stdout!.on('data', (d) => {
        out += String(d)
        for (const w of [...waiting]) {
          if (out.split('\n').includes(w.text)) {
            waiting.splice(waiting.indexOf(w), 1)
            w.resolve()
          }
        }
      })
      child.stderr!.on('data', (d) => (err += String(d)))
      child.info!.on('data', (d) => (info += String(d)))
      child.info!.on('close', () => infoDone(info))
    })
    child.on('exit', (code, signal) => (exit = [code, signal]))
    child.on('close', () => resolve({ out, err, info, code: exit[0], signal: exit[1] }))
  })
  const line = (text: string) =>
    out.split('\n').includes(text)
      ? Promise.resolve()
      : Promise.race([new Promise<void>((resolve) => waiting.push({ text, resolve })), done.then((r) => Promise.reject(new Error(`${launcher} ended (${r.code ?? r.signal}) before printing "${text}": ${r.err}`)))])
  return { child, info: infoP, line, exited, done }
}

const runIn = (launcher: Launcher, layout: Layout) => start(launcher, layout).done

let base: string
let dataDir: string
let host: SandboxHost
let counter = 0

/** A temp folder the step's host user may enter (not list), as a data folder given to it is. */
function enterable(prefix: string, parent?: string): string {
  const d = parent ? fs.mkdtempSync(path.join(parent, prefix)) : tempDir(prefix)
  fs.chmodSync(d, 0o711)
  return d
}

/** Gives `p` (and what is below it) to the step's host user, as the runtime gives volumes and attempt folders. */
function giveToStepUser(p: string): void {
  if (!stepUser) return
  fs.chownSync(p, stepUser.uid, stepUser.gid)
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) giveToStepUser(path.join(p, e))
}

interface Case {
  plan: StepPlan
  layout: Layout
  /** Paths inside the sandbox the probe looks at: d: folders (volumes, file volumes), f: files (fd data, outputs). */
  places: string[]
  /** Host folders a sandbox of this case may change: its attempt folder and its volumes' folders. */
  hostDirs: string[]
}

/** Every entry below `dirs` with its mode and owner: what a sandbox left on the host. */
function hostState(dirs: string[]): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name)
      const st = fs.lstatSync(p)
      out.push(`${p} ${st.mode.toString(8)} ${st.uid}:${st.gid}`)
      if (st.isDirectory()) walk(p)
    }
  }
  for (const d of dirs) walk(d)
  return out
}

/** Removes what appeared below `dirs` since `before` (hostState): the next launcher starts from the same host. */
function restoreHost(dirs: string[], before: string[]): void {
  const known = new Set(before.map((l) => l.slice(0, l.indexOf(' '))))
  for (const line of hostState(dirs).reverse()) {
    const p = line.slice(0, line.indexOf(' '))
    if (!known.has(p)) fs.rmSync(p, { recursive: true, force: true })
  }
}

/** Plans `container` as the runtime does and lays it out for bubblewrap, preparing the host side (folders, outputs file, owners). */
function caseOf(container: Partial<V1Container>, more: { volumes?: V1Volume[]; network?: 'none'; launch?: Partial<Omit<StepLaunch, 'pod'>> } = {}): Case {
  const attemptDir = path.join(base, `attempt-${++counter}`)
  const p = pod(container, { volumes: more.volumes })
  if (more.network) p.metadata!.annotations = { [NETWORK_ANNOTATION]: more.network }
  const plan = planStep(launch(p, more.launch), stepPath(), (name) => path.join(attemptDir, 'empty', name))
  const layout = bubblewrapLayout(plan, attemptDir, BWRAP, host)
  fs.mkdirSync(attemptDir, { mode: 0o711 })
  const made: MadeFolder[] = []
  checkPathsInVolumes(plan, made)
  for (const d of layout.dirs) fs.mkdirSync(d, { recursive: true })
  for (const f of layout.configFiles) fs.writeFileSync(f.path, f.content, { mode: f.mode & 0o777 })
  giveToStepUser(attemptDir)
  for (const o of layout.owned) if (fs.existsSync(o.path)) giveToStepUser(o.path)
  const places: string[] = []
  for (const m of plan.mounts) {
    if (m.kind === 'dir') places.push(`d:${m.mountPath}`)
    else if (m.single) places.push(`f:${m.mountPath}`)
    else places.push(`d:${m.mountPath}`, ...m.files.map((f) => `f:${path.join(m.mountPath, f.path)}`))
  }
  if (plan.workingDir) places.push(`d:${plan.workingDir}`)
  if (plan.outputsPath) places.push(`f:${plan.outputsPath}`)
  const hostDirs = [attemptDir, ...new Set(plan.mounts.flatMap((m) => (m.kind === 'dir' ? [m.hostDir] : [])))]
  return { plan, layout, places, hostDirs }
}

/** The PATH a step gets when its pod sets none (index.ts's hostPath): the host's, this ctl's bin/ and node's folder. */
function stepPath(): string {
  const dirs = (process.env.PATH || '/usr/local/bin:/usr/bin:/bin').split(':')
  for (const extra of [path.join(packageRoot(), 'bin'), path.dirname(process.execPath)]) if (!dirs.includes(extra)) dirs.push(extra)
  return dirs.join(':')
}

/**
 * What the step sees, one section per `== name` line. Places come as arguments (see Case). Every line is either
 * the same in any two sandboxes of one layout or normalised below; the probe itself avoids what changes between
 * runs: times (ls --time-style=+), mount and device ids (not printed), pids of its own children (the shell's glob
 * lists /proc without forking).
 */
const PROBE = String.raw`
s() { echo "== $*"; }
s pids; for p in /proc/[0-9]*; do printf '%s ' "\${p#/proc/}"; done; echo
s id; id
s hostname; cat /proc/sys/kernel/hostname
s cwd; pwd
s env; env | sort
s status; grep -E '^(Umask|Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp|SigBlk|SigIgn|SigCgt)' /proc/self/status
s init status; grep -E '^(Name|Umask|Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp|SigBlk|SigIgn|SigCgt)' /proc/1/status
s limits; cat /proc/self/limits
s oom_score_adj; cat /proc/self/oom_score_adj
s cgroup; cat /proc/self/cgroup
s domainname; cat /proc/sys/kernel/domainname
s ppid pgrp session; sed 's/^.*) //' /proc/$$/stat | cut -d' ' -f2-4
s user maps; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups
s mounts; awk '{ o = ""; i = 7; while ($i != "-") { o = o " " $i; i++ }; print $5, $4, $6, $(i+1), $(i+2), $(i+3), "[" o " ]" }' /proc/self/mountinfo | sort
s namespaces; for n in /proc/$$/ns/*; do echo "\${n##*/} $(readlink "$n")"; done
s interfaces; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort
s loopback; perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n"; print bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) ? "bind 127.0.0.1: ok\n" : "bind 127.0.0.1: $!\n"'
s fds; ls -l --time-style=+ /proc/$$/fd 2>&1
s init fds; ls -l --time-style=+ /proc/1/fd 2>&1
for d in / /dev /dev/pts /dev/shm /tmp /etc /opt; do s ls $d; ls -la --time-style=+ "$d" 2>&1; done
s writable; for d in / /tmp /dev /dev/shm /usr /etc /proc; do if touch "$d/.probe-w" 2>/dev/null; then echo "$d writable"; rm -f "$d/.probe-w"; else echo "$d read-only"; fi; done
for p; do
  kind=\${p%%:*}; p=\${p#*:}
  case $kind in
    d) s folder $p; ls -la --time-style=+ "$p" 2>&1; if touch "$p/.probe-w" 2>/dev/null; then echo writable; rm -f "$p/.probe-w"; else echo read-only; fi ;;
    f) s file $p; stat -c '%A %u %g %s %h' "$p"; cat "$p"; echo; if (: >> "$p") 2>/dev/null; then echo writable; else echo read-only; fi ;;
  esac
done
echo probe-stderr >&2
`.replaceAll('\\$', '$')

/** The namespaces a sandbox has of its own (its links differ from this process'), `net` only with network none. */
const OWN_NAMESPACES = ['cgroup', 'ipc', 'mnt', 'pid', 'pid_for_children', 'user', 'uts']

/**
 * The only differences two sandboxes of one layout may show, all of them made anew by each run. Pipe and socket
 * inode numbers. Namespace links: each becomes `host` (this process' own) or `own`. The link count of /proc: the
 * number of processes on the whole host. Runs of spaces: ls aligns its columns on the widest entry (that count).
 * The root of a --ro-bind-data mount: a deleted temp file of a random name in the launcher's own staging tmpfs.
 * The numbers of init's own fds above 2 (its eventfd): the first free one when it made them, which depends on what
 * the launcher itself had open then; what they are is still compared. Peer group ids of mounts (shared:N,
 * master:N): numbers the kernel hands out; whether a mount is shared, a slave or private is still compared.
 * Init's name (the launcher's own) and the signals it blocks (how it waits for its children); the signals it
 * catches or ignores, which decide what reaches it from the host, are still compared.
 */
function normalise(out: string): string {
  const hostNs = new Map(fs.readdirSync('/proc/self/ns').map((n) => [n, fs.readlinkSync(`/proc/self/ns/${n}`)]))
  let section = ''
  return out
    .split('\n')
    .map((line) => {
      if (line.startsWith('== ')) section = line
      else if (section === '== namespaces') {
        const [name, link] = line.split(' ')
        return `${name} ${hostNs.get(name!) === link ? 'host' : 'own'}`
      }
      if (section === '== init fds') line = line.replace(/ (\d{2,}|[3-9]) -> /, ' # -> ')
      if (section === '== init status') line = line.replace(/^Name:\t.*$/, 'Name:\t<launcher>').replace(/^SigBlk:\t.*$/, 'SigBlk:\t#')
      if (section === '== mounts') return line.replace(/^(\S+) \/[^/ ]+\/\/deleted /, '$1 <deleted file> ').replace(/\b(shared|master|propagate_from):\d+/g, '$1:#')
      return line
        .replace(/\b(pipe|socket|anon_inode):\[\d+\]/g, '$1:[#]')
        .replace(/ +/g, ' ')
        .replace(/^(dr-xr-xr-x) \d+ (.* proc)$/, '$1 # $2')
    })
    .join('\n')
}

/** The lines of one section of the probe's output. */
function section(out: string, name: string): string[] {
  const lines = out.split('\n')
  const at = lines.indexOf(`== ${name}`)
  if (at < 0) return []
  const end = lines.findIndex((l, i) => i > at && l.startsWith('== '))
  return lines.slice(at + 1, end < 0 ? undefined : end).filter((l) => l !== '')
}

function hostNamespaces(out: string): Record<string, string> {
  return Object.fromEntries(section(normalise(out), 'namespaces').map((l) => l.split(' ') as [string, string]))
}

/** `layout` with another command after its `--` (as written: no Kubernetes $(VAR) expansion on the way). */
function withCommand(layout: Layout, argv: string[]): Layout {
  const args = layout.spec.args
  return { ...layout, spec: { ...layout.spec, args: [...args.slice(0, args.indexOf('--') + 1), ...argv] } }
}

/** Runs the probe with `c`'s layout under every launcher, bwrap first. */
async function probeBoth(c: Case): Promise<{ bwrap: Ran; mine: Ran[] }> {
  const withProbe = withCommand(c.layout, ['sh', '-c', PROBE, 'probe', ...c.places])
  const before = hostState(c.hostDirs)
  const bwrap = await runIn('bwrap', withProbe)
  const afterBwrap = hostState(c.hostDirs)
  // What bwrap made on the host (a working folder inside a volume) goes: ctl-sandbox must make it itself.
  restoreHost(c.hostDirs, before)
  expect(hostState(c.hostDirs)).toEqual(before)
  const mine: Ran[] = []
  for (const l of OURS) {
    restoreHost(c.hostDirs, before)
    mine.push(await runIn(l, withProbe))
    expect(hostState(c.hostDirs), `what ${l} left on the host`).toEqual(afterBwrap)
  }
  // For whoever reads a difference: the raw outputs, one file per launcher and case.
  const dump = process.env.CTL_LAUNCHER_TEST_DUMP
  if (dump) {
    fs.mkdirSync(dump, { recursive: true })
    for (const [name, r] of [['bwrap', bwrap], ...OURS.map((l, i) => [l.replace(/ /g, '-'), mine[i]!] as const)] as const)
      fs.writeFileSync(path.join(dump, `${counter}.${name}.txt`), `${r.out}\n== stderr\n${r.err}\n== exit ${r.code ?? r.signal}\n== info\n${r.info}\n`)
  }
  return { bwrap, mine }
}

/** The probe saw the same under both, exited the same, said the same on stderr; the reference itself is sane. */
function expectSame({ bwrap, mine: ours }: { bwrap: Ran; mine: Ran[] }, network?: 'none'): void {
  // The reference first: a harness that broke bwrap's run would make every comparison empty.
  expect(bwrap.err).toBe('probe-stderr\n')
  expect(bwrap.code).toBe(0)
  expect(section(bwrap.out, 'status')).toContain('NoNewPrivs:\t1')
  const ns = hostNamespaces(bwrap.out)
  for (const n of OWN_NAMESPACES) expect(ns[n], n).toBe('own')
  expect(ns.net).toBe(network === 'none' ? 'own' : 'host')
  expect(ns.time).toBe('host')

  // The one deliberate difference: ctl-sandbox's init is not dumpable (in ctl-spawner's child it holds a copy of the
  // spawner's memory, other steps' data included), so the command cannot look into it; bwrap's init it can.
  expect(section(bwrap.out, 'init fds').length).toBeGreaterThan(3)
  const initFdsAside = (out: string) => normalise(out).replace(/== init fds\n[^]*?(?=\n== )/, '== init fds\n(compared above)')
  expect(ours).toHaveLength(OURS.length)
  for (const mine of ours) {
    expect(section(mine.out, 'init fds')).toEqual(["ls: cannot open directory '/proc/1/fd': Permission denied"])
    expect(initFdsAside(mine.out)).toEqual(initFdsAside(bwrap.out))
    expect(mine.err).toBe(bwrap.err)
    expect([mine.code, mine.signal]).toEqual([bwrap.code, bwrap.signal])
    const info = JSON.parse(mine.info) as Record<string, unknown>
    expect(Number.isInteger(info['child-pid'])).toBe(true)
  }
}

describe.skipIf(Boolean(missing))('ctl-sandbox', () => {
  beforeAll(() => {
    useSpawner(spawnerBin)
    base = enterable('ctl-launcher-')
    // A data folder below a folder the sandbox binds (this ctl's package folder): hidden by an empty tmpfs.
    dataDir = enterable('.ctl-launcher-data-', packageRoot())
    host = describeSandboxHost({ dataDir, stateDir: path.join(dataDir, 'runs'), ctlHome: path.join(dataDir, 'home') })
  })
  afterAll(() => {
    useSpawner('')
    if (base) fs.rmSync(base, { recursive: true, force: true })
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  })

  describe.skipIf(!hasBwrap)('shows a step what bwrap shows it', () => {
    it('with no volume', async () => {
      const c = caseOf({ command: ['true'] })
      expect(host.hidden).toEqual([dataDir])
      expectSame(await probeBoth(c))
    })

    it('with a writable, a read-only, a subPath and an emptyDir volume', async () => {
      const rw = enterable('vol-rw-', base)
      const ro = enterable('vol-ro-', base)
      fs.mkdirSync(path.join(rw, 'sub', 'deeper'), { recursive: true })
      fs.writeFileSync(path.join(rw, 'hello.txt'), 'hello\n', { mode: 0o640 })
      fs.writeFileSync(path.join(rw, 'sub', 'deeper', 'x'), 'x')
      fs.writeFileSync(path.join(ro, 'data.bin'), 'ro')
      fs.symlinkSync('/etc/passwd', path.join(ro, 'link'))
      giveToStepUser(rw)
      giveToStepUser(ro)
      const volumes = [
        { name: 'ws', persistentVolumeClaim: { claimName: 'rw' } },
        { name: 'in', persistentVolumeClaim: { claimName: 'ro' } },
        { name: 'scratch', emptyDir: {} },
      ]
      const c = caseOf(
        {
          command: ['true'],
          volumeMounts: [
            { name: 'ws', mountPath: '/workspace' },
            { name: 'in', mountPath: '/data/in', readOnly: true },
            { name: 'ws', mountPath: '/data/sub', subPath: 'sub/deeper' },
            { name: 'scratch', mountPath: '/scratch' },
          ],
        },
        { volumes, launch: { volumeDirs: { rw, ro } } },
      )
      expectSame(await probeBoth(c))
    })

    it('with ConfigMap and Secret files (fd data: nested paths, modes, a single file) below a missing folder of /etc', async () => {
      const volumes: V1Volume[] = [
        { name: 'cfg', configMap: { name: 'c', items: [{ key: 'a', path: 'a' }, { key: 'b', path: 'nested/deep/b', mode: 0o600 }, { key: 'run', path: 'nested/run.sh', mode: 0o755 }] } },
        { name: 'sec', secret: { secretName: 's', defaultMode: 0o400 } },
      ]
      const c = caseOf(
        {
          command: ['true'],
          volumeMounts: [
            { name: 'cfg', mountPath: '/etc/ctl/config' },
            { name: 'sec', mountPath: '/var/run/secrets/token', subPath: 'token' },
            { name: 'sec', mountPath: '/secrets' },
          ],
        },
        { volumes, launch: { configData: { a: 'config-a', b: 'line 1\nline 2\n', run: '#!/bin/sh\necho run\n' }, secretData: { token: 's3cret', other: '' } } },
      )
      // The missing /etc/ctl makes /etc an expanded folder: a tmpfs with every entry of the host's bound back.
      expect(c.layout.spec.args.join(' ')).toContain('--tmpfs /etc --ro-bind-try /etc/')
      expect(c.layout.spec.fdData.length).toBe(6)
      expectSame(await probeBoth(c))
    })

    it('with an outputs file, a working folder inside a volume and runAsUser 1000:1000', async () => {
      const rw = enterable('vol-wd-', base)
      giveToStepUser(rw)
      const c = caseOf(
        { command: ['true'], workingDir: '/workspace/job/1', terminationMessagePath: '/ctl/outputs', securityContext: { runAsUser: 1000, runAsGroup: 1000 }, volumeMounts: [{ name: 'ws', mountPath: '/workspace' }] },
        { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'rw' } }], launch: { volumeDirs: { rw } } },
      )
      expect(c.layout.outputsFile).toBeDefined()
      expectSame(await probeBoth(c))
    })

    it('with network none, runAsUser 0, a working folder on the root and a volume below a missing folder of /opt', async () => {
      const rw = enterable('vol-opt-', base)
      giveToStepUser(rw)
      const c = caseOf(
        { command: ['true'], workingDir: '/home/work', securityContext: { runAsUser: 0 }, volumeMounts: [{ name: 'tools', mountPath: '/opt/ctl-tools/bin' }] },
        { network: 'none', volumes: [{ name: 'tools', persistentVolumeClaim: { claimName: 'rw' } }], launch: { volumeDirs: { rw } } },
      )
      expect(c.layout.spec.args).toContain('--unshare-net')
      expectSame(await probeBoth(c), 'none')
    })

    it('with rarer forms of the options: --gid alone, a missing --ro-bind-try source, --perms on data, folders and a tmpfs, a symlink, a chdir into made folders', async () => {
      const c = caseOf({ command: ['true'], securityContext: { runAsGroup: 2000 } })
      const args = c.layout.spec.args
      expect(args.join(' ')).toContain('--gid 2000')
      expect(args).not.toContain('--uid')
      // Written here, not by the layout: forms it emits only in some cases (bindEntries' --ro-bind-try of an entry
      // gone since, --perms of a file's mode) and a few more of the subset.
      const extra = [
        ...['--ro-bind-try', path.join(base, 'gone'), '/opt2/gone'],
        ...['--perms', '0640', '--ro-bind-data', '4', '/cfg/deep/file'],
        ...['--perms', '0700', '--dir', '/cfg/private'],
        ...['--dir', '/cfg/made'],
        ...['--perms', '0750', '--tmpfs', '/scratch2'],
        ...['--symlink', '/usr/bin', '/ubin'],
      ]
      const at = args.lastIndexOf('--remount-ro')
      const rare = [...args.slice(0, at), ...extra, ...args.slice(at)].map((a, i, all) => (all[i - 1] === '--add-seccomp-fd' ? '5' : a))
      rare[rare.indexOf('--chdir') + 1] = '/cfg/deep'
      const layout: Layout = { ...c.layout, spec: { ...c.layout.spec, args: rare, fdData: ['rare data\n'] } }
      expectSame(await probeBoth({ ...c, layout, places: ['d:/cfg', 'd:/cfg/deep', 'f:/cfg/deep/file', 'd:/cfg/private', 'd:/cfg/made', 'd:/scratch2'] }))
    })

    it('with ConfigMap files of a MiB each, read whole from their fds', async () => {
      const big = (seed: string) => Array.from({ length: 1 << 14 }, (_, i) => `${seed}${String(i).padStart(62, '.')}\n`).join('')
      const data = { a: big('a'), b: big('b'), c: 'small' }
      const c = caseOf({ command: ['true'], volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] }, { volumes: [{ name: 'cfg', configMap: { name: 'c' } }], launch: { configData: data } })
      const layout = withCommand(c.layout, ['sh', '-c', 'cd /cfg && sha256sum a b c && wc -c a b c'])
      const expected = Object.entries(data).map(([k, v]) => `${crypto.createHash('sha256').update(v).digest('hex')}  ${k}`)
      for (const l of launchers) {
        const r = await runIn(l, layout)
        expect([r.code, r.err], l).toEqual([0, ''])
        expect(r.out.split('\n').slice(0, 3), l).toEqual(expected)
        expect(r.out, l).toMatch(new RegExp(`^ *${1 << 20} a$`, 'm'))
      }
    })

    it("with the runtime's probe arguments (sandbox.ts: the host's root bound read-only, recursively)", async () => {
      // As sandbox.ts's probeBwrap runs them, with a command that looks instead of `true`. No /dev/null: the host's
      // /dev is bound without its devices (nodev). Of host mounts stacked at one point (/dev/shm here) only the top
      // one is the step's to reach: bwrap leaves the covered ones as they were (rw), a launcher may make them ro too.
      // The mounts are listed with the one on top at each point (mountinfo lists a covering mount after the covered).
      const args = ['--unshare-user', '--disable-userns', '--cap-drop', 'ALL', '--unshare-pid', '--unshare-net', '--ro-bind', '/', '/', '--remount-ro', '/', '--']
      const look = String.raw`
echo "== status"; grep -E '^(Uid|Gid|Cap|NoNewPrivs|Seccomp)' /proc/self/status
echo "== writable"; for d in / /tmp /var/tmp /dev /dev/shm /proc/self /usr /etc /root; do if touch "$d/.probe-w" 2>&-; then echo "$d writable"; rm -f "$d/.probe-w"; else echo "$d read-only"; fi; done
echo "== mounts"; awk '{ o = ""; i = 7; while ($i != "-") { o = o " " $i; i++ }; top[$5] = $5 " " $4 " " $6 " " $(i+1) " " $(i+2) " " $(i+3) " [" o " ]" } END { for (m in top) print top[m] }' /proc/self/mountinfo | sort`
      const layout: Layout = { spec: { mode: 'bubblewrap', command: BWRAP, args: [...args, 'sh', '-c', look], env: { PATH: '/usr/bin:/bin' }, fdData: [] }, configFiles: [], dirs: [], sources: [], owned: [], notes: [] }
      const bwrap = await runIn('bwrap', layout)
      const mine = await runIn('ctl-sandbox', layout)
      expect([bwrap.code, bwrap.err]).toEqual([0, ''])
      expect(section(bwrap.out, 'writable').filter((l) => l.endsWith(' writable'))).toEqual([])
      expect(normalise(mine.out)).toEqual(normalise(bwrap.out))
      expect([mine.code, mine.err]).toEqual([0, ''])
    })

    it('passes the exit status on: 0, 7, 128+N for a command killed by a signal', async () => {
      const c = caseOf({ command: ['true'] })
      for (const [script, code] of [
        ['echo out; echo err >&2', 0],
        ['echo out; echo err >&2; exit 7', 7],
        ['echo out; echo err >&2; kill -TERM $$', 128 + os.constants.signals.SIGTERM],
        ['echo out; echo err >&2; kill -KILL $$', 128 + os.constants.signals.SIGKILL],
      ] as const) {
        const layout = withCommand(c.layout, ['sh', '-c', script])
        const bwrap = await runIn('bwrap', layout)
        const mine = await runIn('ctl-sandbox', layout)
        expect([bwrap.code, bwrap.signal, bwrap.out, bwrap.err], script).toEqual([code, null, 'out\n', 'err\n'])
        expect([mine.code, mine.signal, mine.out, mine.err], script).toEqual([code, null, 'out\n', 'err\n'])
      }
    })
  })

  describe('refuses what a hostile step tries', () => {
    let volumeDirs: Record<string, string>
    let hostTmp: string
    const hostShm = `/dev/shm/ctl-launcher-host-${process.pid}`
    /** Host paths the step must not see. */
    let secretsOfHost: string[]
    beforeAll(() => {
      volumeDirs = { rw: enterable('vol-h-rw-', base), ro: enterable('vol-h-ro-', base) }
      giveToStepUser(volumeDirs.rw!)
      giveToStepUser(volumeDirs.ro!)
      // A setuid-root program the step can run (only a root test can make one): it must gain nothing.
      if (process.getuid?.() === 0) {
        fs.copyFileSync('/usr/bin/id', path.join(volumeDirs.ro!, 'suid-id'))
        fs.chmodSync(path.join(volumeDirs.ro!, 'suid-id'), 0o6755)
      }
      hostTmp = path.join(os.tmpdir(), `ctl-launcher-host-${process.pid}`)
      fs.writeFileSync(hostTmp, 'host')
      // The host's /dev/shm holds the outputs files of other steps (layout.ts): the sandbox's /dev/shm is its own.
      if (fs.existsSync('/dev/shm')) fs.writeFileSync(hostShm, 'host')
      fs.mkdirSync(path.join(dataDir, 'runs'), { recursive: true })
      fs.writeFileSync(path.join(dataDir, 'runs', 'master.key'), 'key')
      secretsOfHost = ['/root', '/home', '/var', '/srv', '/mnt', '/boot', '/run', '/sys', '/old_root', hostTmp, hostShm, base, path.join(dataDir, 'runs')]
    })
    afterAll(() => {
      if (hostTmp) fs.rmSync(hostTmp, { force: true })
      fs.rmSync(hostShm, { force: true })
    })

    function hostileCase(runAsUser?: number): Case {
      return caseOf(
        {
          command: ['true'],
          terminationMessagePath: '/ctl/outputs',
          securityContext: runAsUser === undefined ? undefined : { runAsUser },
          volumeMounts: [
            { name: 'ws', mountPath: '/workspace' },
            { name: 'in', mountPath: '/data/ro', readOnly: true },
            { name: 'sec', mountPath: '/secrets' },
          ],
        },
        {
          volumes: [
            { name: 'ws', persistentVolumeClaim: { claimName: 'rw' } },
            { name: 'in', persistentVolumeClaim: { claimName: 'ro' } },
            { name: 'sec', secret: { secretName: 's' } },
          ],
          launch: { volumeDirs, secretData: { token: 's3cret' } },
        },
      )
    }

    /** One line per attempt, `name: refused` or `name: succeeded`, then what the step sees of itself and the host. */
    const attempts = () =>
      String.raw`
t() { n=$1; shift; if "$@" >/dev/null 2>&1; then echo "$n: succeeded"; else echo "$n: refused"; fi; }
t mount-tmpfs mount -t tmpfs x /tmp
t mount-bind mount --bind /tmp /usr
t umount-proc umount /proc
t umount-volume umount -l /data/ro
t remount-root-rw mount -o remount,rw /
t remount-volume-rw mount -o remount,bind,rw /data/ro
t unshare-user unshare -U true
t unshare-root unshare -r true
t unshare-mount unshare -m true
t unshare-net unshare -n true
t ptrace-traceme perl -e 'exit(syscall(101, 0, 0, 0, 0) == -1 ? 1 : 0)'
t ptrace-attach-init perl -e 'exit(syscall(101, 16, 1, 0, 0) == -1 ? 1 : 0)'
t process-vm-readv-init perl -e 'exit(syscall(310, 1, 0, 0, 0, 0, 0) == -1 ? 1 : 0)'
t write-usr touch /usr/ctl-probe
t write-etc touch /etc/ctl-probe
t write-root touch /ctl-probe
t write-ctl-package touch ${packageRoot()}/ctl-probe
t write-node-folder touch ${path.dirname(process.execPath)}/ctl-probe
t write-data-folder touch ${dataDir}/ctl-probe
t write-ro-volume touch /data/ro/ctl-probe
t write-secret sh -c ': >> /secrets/token'
t replace-outputs sh -c 'rm -f /ctl/outputs || mv /tmp /ctl/outputs'
t proc-sys-hostname sh -c 'echo evil > /proc/sys/kernel/hostname'
t proc-sys-core-pattern sh -c 'echo "|/tmp/x" > /proc/sys/kernel/core_pattern'
t sysrq-trigger sh -c 'echo h > /proc/sysrq-trigger'
t sethostname hostname evil
t chroot chroot / true
t mknod mknod /tmp/null c 1 3
t write-info-fd sh -c 'echo "{\"child-pid\": 1}" >&3'
t inherited-fd-3-to-9 sh -c 'for n in 3 4 5 6 7 8 9; do if (: <&$n) 2>/dev/null; then exit 0; fi; done; exit 1'
t kill-host-process kill -0 ${process.pid}
t su su -c true
t setuid-mount mount -t proc proc /tmp
t write-init-mem sh -c 'a=$(grep -m1 " rw-p " /proc/1/maps | cut -d- -f1); perl -e '"'"'open(my $f, "+<", "/proc/1/mem") or exit 1; sysseek($f, hex(shift), 0) or exit 1; sysread($f, my $b, 1) == 1 or exit 1; sysseek($f, -1, 1) or exit 1; exit(syswrite($f, $b, 1) == 1 ? 0 : 1)'"'"' "$a"'
t read-init-mem sh -c 'a=$(head -1 /proc/1/maps | cut -d- -f1); dd if=/proc/1/mem bs=1 count=1 skip=$((0x$a)) 2>/dev/null | wc -c | grep -qx 1'
echo "outputs: $(cat /ctl/outputs; echo . >> /ctl/outputs && echo appended)"
echo "uid: $(id -u), a setuid-root program's euid: $(/data/ro/suid-id -u 2>/dev/null || echo none)"
echo "groups: $(id -G)"
grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/1/status | sed 's/^/init /'
for p in ${secretsOfHost.join(' ')}; do test -e "$p" && echo "visible: $p"; done
echo "data folder: $(ls -A ${dataDir} | wc -l) entries"
echo "init's root: $(ls -A /proc/1/root/ 2>&1 | tr '\n' ' ')"
echo "init's cwd: $(ls -A /proc/1/cwd/ 2>&1 | tr '\n' ' ')"
printf 'pids:'; for p in /proc/[0-9]*; do printf ' %s' "\${p#/proc/}"; done; echo
echo "dev: $(ls -A /dev | tr '\n' ' ')"
`.replaceAll('\\$', '$')

    const REFUSED = [
      ...['mount-tmpfs', 'mount-bind', 'umount-proc', 'umount-volume', 'remount-root-rw', 'remount-volume-rw'],
      ...['unshare-user', 'unshare-root', 'unshare-mount', 'unshare-net'],
      ...['ptrace-traceme', 'ptrace-attach-init', 'process-vm-readv-init'],
      ...['write-usr', 'write-etc', 'write-root', 'write-ctl-package', 'write-node-folder', 'write-data-folder', 'write-ro-volume', 'write-secret', 'replace-outputs'],
      ...['proc-sys-hostname', 'proc-sys-core-pattern', 'sysrq-trigger', 'sethostname', 'chroot', 'mknod', 'write-info-fd', 'inherited-fd-3-to-9', 'kill-host-process', 'su', 'setuid-mount'],
    ]

    for (const runAsUser of [undefined, 0]) {
      it(`as ${runAsUser === undefined ? "the step's own uid" : 'uid 0 of its namespace'}: no mount, namespace, ptrace, write outside its own places, privilege, host path or host pid`, async () => {
        const layout = withCommand(hostileCase(runAsUser).layout, ['sh', '-c', attempts()])
        const mine = await runIn('ctl-sandbox', layout)
        const lines = mine.out.split('\n')
        if (process.env.CTL_LAUNCHER_TEST_DUMP) fs.mkdirSync(process.env.CTL_LAUNCHER_TEST_DUMP, { recursive: true })
        if (process.env.CTL_LAUNCHER_TEST_DUMP) fs.writeFileSync(path.join(process.env.CTL_LAUNCHER_TEST_DUMP, `hostile-${runAsUser ?? 'own'}.txt`), mine.out + mine.err)
        const uid = runAsUser ?? stepUser?.uid ?? process.getuid?.()
        // Init's memory: bwrap's init is the command's to read and write (same user, dumpable); ctl-sandbox's is not
        // dumpable (it may hold a copy of ctl-spawner's memory, with other steps' data), so not even readable.
        expect(lines.filter((l) => /^[a-z0-9-]+: (refused|succeeded)$/.test(l) && !/^(read|write)-init-mem:/.test(l))).toEqual(REFUSED.map((n) => `${n}: refused`))
        expect(lines).toContain('read-init-mem: refused')
        expect(lines).toContain('write-init-mem: refused')
        expect(lines).toContain('outputs: appended')
        // nosuid and no_new_privs: a setuid-root program runs as the step itself.
        expect(lines).toContain(`uid: ${uid}, a setuid-root program's euid: ${process.getuid?.() === 0 ? uid : 'none'}`)
        // Init too: the command can write its memory, so init must hold no more than the command (the seccomp
        // filter included, as bwrap's init does), or code put there runs unfiltered.
        for (const who of ['', 'init ']) {
          for (const l of ['CapPrm:\t0000000000000000', 'CapEff:\t0000000000000000', 'CapBnd:\t0000000000000000', 'NoNewPrivs:\t1', 'Seccomp:\t2']) expect(lines).toContain(who + l)
        }
        expect(lines.filter((l) => l.startsWith('visible: '))).toEqual([])
        expect(lines).toContain('data folder: 0 entries')
        // Init's root and working folder, which bwrap's init shows the same user through /proc/1: not even reachable.
        expect(lines.find((l) => l.startsWith("init's root: "))).toMatch(/Permission denied/)
        expect(lines.find((l) => l.startsWith("init's cwd: "))).toMatch(/Permission denied/)
        // Its init and itself: no process of the host, no other.
        expect(lines).toContain('pids: 1 2')
        expect(lines).toContain('dev: core fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ')
        expect([mine.code, mine.err]).toEqual([0, ''])
        if (hasBwrap) {
          // The reference answers every line the same, the ones not asserted above included (groups), but for what
          // concerns init's memory and folders (see above), where bwrap's init is reachable and its root the sandbox's.
          // A case of its own: the outputs file the first run appended to is not this run's.
          const bwrap = await runIn('bwrap', withCommand(hostileCase(runAsUser).layout, ['sh', '-c', attempts()]))
          const bwrapLines = bwrap.out.split('\n')
          expect(bwrapLines.find((l) => l.startsWith("init's root: "))).toMatch(/ usr /)
          const initAside = (ls: string[]) => ls.filter((l) => !/^((read|write)-init-mem:|init's (root|cwd): )/.test(l))
          expect(initAside(lines)).toEqual(initAside(bwrapLines))
        }
        expect(fs.existsSync('/usr/ctl-probe') || fs.existsSync(path.join(volumeDirs.ro!, 'ctl-probe'))).toBe(false)
      })
    }
  })

  /** Fields 4-7 of /proc/PID/stat: parent, process group, session. */
  function statOf(pid: number): { ppid: number; pgrp: number; session: number } {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) }
  }
  const nsPid = (pid: number) => /^NSpid:\t(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!.split('\t').map(Number)
  const fdTargets = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).map((fd) => `${fd} ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`)

  describe('run in ctl-spawner\'s child', () => {
    /** Whether `needle` is anywhere in the readable memory of `pid` (read as root, through /proc/PID/mem). */
    function inMemory(pid: number, needle: Buffer): boolean {
      const fd = fs.openSync(`/proc/${pid}/mem`, 'r')
      try {
        for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
          const m = /^([0-9a-f]+)-([0-9a-f]+) r/.exec(line)
          if (!m || line.endsWith('[vvar]') || line.endsWith('[vsyscall]')) continue
          const from = BigInt(`0x${m[1]}`)
          const size = Number(BigInt(`0x${m[2]}`) - from)
          const buf = Buffer.alloc(size)
          let got = 0
          try {
            got = fs.readSync(fd, buf, 0, size, from as unknown as number)
          } catch {
            continue // a mapping the kernel does not let even root read (guard pages)
          }
          if (buf.subarray(0, got).includes(needle)) return true
        }
        return false
      } finally {
        fs.closeSync(fd)
      }
    }

    it.runIf(process.getuid?.() === 0)("holds none of another step's data in the sandbox's monitor and init: its environment, secret files or output", async () => {
      const mark = (what: string) => `ctl-${what}-${process.pid}-${++counter}-zq`
      const [envA, fileA, outA, argA, envB] = [mark('env-a'), mark('file-a'), mark('out-a'), mark('arg-a'), mark('env-b')]
      // Step A, ended: a Secret file, an environment variable and output of its own, all through the spawner.
      const a = caseOf({ command: ['true'], volumeMounts: [{ name: 'sec', mountPath: '/secrets' }] }, { volumes: [{ name: 'sec', secret: { secretName: 's' } }], launch: { secretData: { token: fileA } } })
      // Its arguments many times over: the last strings the spawner copies, which a fork's registers could carry on.
      const layoutA = withCommand(a.layout, ['sh', '-c', `cat /secrets/token; echo; echo ${outA}`, ...Array.from({ length: 100 }, () => argA)])
      const ranA = await runIn('ctl-sandbox in ctl-spawner', { ...layoutA, spec: { ...layoutA.spec, env: { ...layoutA.spec.env, SECRET_A: envA } } })
      expect(ranA.out).toBe(`${fileA}\n${outA}\n`)
      // Step B, running: its monitor and init were forked from the spawner after A's request and output passed it.
      const b = caseOf({ command: ['true'] })
      const layoutB = withCommand(b.layout, ['sh', '-c', 'echo up; exec sleep 60'])
      const sB = start('ctl-sandbox in ctl-spawner', { ...layoutB, spec: { ...layoutB.spec, env: { ...layoutB.spec.env, SECRET_B: envB } } })
      try {
        await sB.line('up')
        const init = (JSON.parse(await sB.info) as { 'child-pid': number })['child-pid']
        for (const pid of [sB.child.pid!, init]) {
          // The scan works: B's own environment is there (the monitor's copy of its request).
          if (pid === sB.child.pid) expect(inMemory(pid, Buffer.from(envB)), 'B in its own monitor').toBe(true)
          for (const [what, needle] of [['environment', envA], ['secret file', fileA], ['output', outA], ['arguments', argA]] as const) {
            expect(inMemory(pid, Buffer.from(needle)), `A's ${what} in B's ${pid === init ? 'init' : 'monitor'}`).toBe(false)
          }
        }
      } finally {
        process.kill(sB.child.pid!, 'SIGKILL')
        await sB.exited
      }
    })
  })

  describe('has bwrap\'s process shape', () => {
    for (const l of launchers) {
      it(`${l}: info names the sandbox's init, the command runs in its session as pid 2 with fds 0-2 only, and ends with the monitor`, async () => {
        const marker = `9${process.pid}${++counter}`
        // Secret data on fd 4 and the seccomp filter on fd 5: neither may stay open in the command or in init.
        const c = caseOf({ command: ['true'], volumeMounts: [{ name: 'sec', mountPath: '/secrets' }] }, { volumes: [{ name: 'sec', secret: { secretName: 's' } }], launch: { secretData: { token: 's3cret' } } })
        const s = start(l, withCommand(c.layout, ['sh', '-c', `echo up; exec sleep ${marker}`]))
        try {
          await s.line('up')
          const info = JSON.parse(await s.info) as { 'child-pid': number }
          const init = info['child-pid']
          expect(statOf(init)).toMatchObject({ ppid: s.child.pid, session: init })
          expect(nsPid(init)).toEqual([init, 1])
          const sleeps = () => processesWith(`sleep ${marker}`).filter((p) => p.cmd.startsWith('sleep '))
          // "up" comes before the exec.
          await until(() => sleeps().length > 0, `the command (${l}) to exec sleep`)
          const [cmd, ...more] = sleeps()
          expect(more).toEqual([])
          expect(cmd!.ppid).toBe(init)
          expect(statOf(cmd!.pid).session).toBe(init)
          expect(nsPid(cmd!.pid)).toEqual([cmd!.pid, 2])
          expect(fdTargets(cmd!.pid).map((t) => t.replace(/:\[\d+\]$/, ''))).toEqual(['0 /dev/null', '1 pipe', '2 pipe'])
          // init holds the command's output pipes and at most its own eventfd: no data, no filter, no info pipe.
          for (const t of fdTargets(init)) expect(t).toMatch(/^(0 \/dev\/null|[12] pipe:\[\d+\]|\d+ anon_inode:\[eventfd\])$/)
          // die-with-parent: the monitor killed, everything of the sandbox goes.
          process.kill(s.child.pid!, 'SIGKILL')
          expect((await s.exited)[1]).toBe('SIGKILL')
          await until(() => processesWith(marker).length === 0, `every process of the sandbox (${l}) to end with its monitor`)
        } finally {
          for (const p of processesWith(marker)) process.kill(p.pid, 'SIGKILL')
        }
      })
    }

    it('everything ends when the launcher\'s parent dies (--die-with-parent: the step host\'s spawner died)', async () => {
      // A launcher exec'd under a shell: ctl-sandbox run in the spawner's child has the spawner itself as its parent,
      // and the spawner's death ending its sandboxes is the step host's test (bubblewrap.test.ts: Lost, sandbox gone).
      for (const l of launchers.filter((x) => x !== 'ctl-sandbox in ctl-spawner')) {
        const marker = `6${process.pid}${++counter}`
        const c = caseOf({ command: ['true'] })
        const layout = withCommand(c.layout, ['sh', '-c', `echo up; exec sleep ${marker}`])
        // A shell as the launcher's parent, started as the spawner starts a step; killed, it leaves the launcher orphaned.
        const parent = start(l, layout, true)
        try {
          await parent.line('up')
          await until(() => processesWith(`sleep ${marker}`).some((p) => p.cmd.startsWith('sleep ')), `the command (${l}) to exec sleep`)
          process.kill(parent.child.pid!, 'SIGKILL')
          await parent.exited
          await until(() => processesWith(marker).length === 0, `every process of the sandbox (${l}) to end with the launcher's parent`)
        } finally {
          for (const p of processesWith(marker)) process.kill(p.pid, 'SIGKILL')
        }
      }
    })

    it('a SIGTERM to the sandbox\'s process group (how the step host stops a step) reaches the command, whose own exit status comes back, as under bwrap', async () => {
      const results: Record<string, [number | null, string | null, string]> = {}
      for (const l of launchers) {
        const c = caseOf({ command: ['true'] })
        const s = start(l, withCommand(c.layout, ['sh', '-c', "trap 'echo got TERM; exit 3' TERM; echo up; while :; do sleep 0.05; done"]))
        await s.line('up')
        const init = (JSON.parse(await s.info) as { 'child-pid': number })['child-pid']
        process.kill(-init, 'SIGTERM')
        const r = await s.done
        results[l] = [r.code, r.signal, r.out]
      }
      expect(results['ctl-sandbox']).toEqual([3, null, 'up\ngot TERM\n'])
      if (hasBwrap) expect(results['ctl-sandbox']).toEqual(results.bwrap)
    })

    it('a command that ends leaves nothing behind: processes it started in the background, in its session or a new one, end with the sandbox', async () => {
      for (const l of launchers) {
        const marker = `7${process.pid}${++counter}`
        const c = caseOf({ command: ['true'] })
        const r = await runIn(l, withCommand(c.layout, ['sh', '-c', `sleep ${marker} & setsid sleep ${marker} & (sleep ${marker} &) ; echo started`]))
        expect([r.code, r.out], l).toEqual([0, 'started\n'])
        try {
          await until(() => processesWith(marker).length === 0, `the background processes (${l}) to end`)
        } finally {
          for (const p of processesWith(marker)) process.kill(p.pid, 'SIGKILL')
        }
      }
    })

    it('a few hundred processes of the step end when its init is killed, with the same exit status as under bwrap', async () => {
      const exits: Record<string, [number | null, string | null]> = {}
      for (const l of launchers) {
        const marker = `8${process.pid}${++counter}`
        const c = caseOf({ command: ['true'] })
        const s = start(l, withCommand(c.layout, ['sh', '-c', `i=0; while [ $i -lt 300 ]; do sleep ${marker} & i=$((i+1)); done; echo up; wait`]))
        try {
          await s.line('up')
          const init = (JSON.parse(await s.info) as { 'child-pid': number })['child-pid']
          await until(() => processesWith(`sleep ${marker}`).filter((p) => p.cmd.startsWith('sleep ')).length === 300, `300 sleeps (${l})`)
          process.kill(init, 'SIGKILL')
          exits[l] = await s.exited
          await until(() => processesWith(marker).length === 0, `every process of the sandbox (${l}) to end with its init`)
        } finally {
          for (const p of processesWith(marker)) process.kill(p.pid, 'SIGKILL')
        }
      }
      if (hasBwrap) expect(exits['ctl-sandbox']).toEqual(exits.bwrap)
      expect(exits['ctl-sandbox']![0]).not.toBe(0)
    })
  })

  describe('fails closed', () => {
    /** Runs ctl-sandbox with `args` as the step's host user, fd 3 an info pipe and `fds` from 4. */
    const runArgs = (args: string[], fds: string[] = []) => runIn('ctl-sandbox', { spec: { mode: 'bubblewrap', command: launcherBin, args, env: { PATH: '/usr/bin:/bin' }, fdData: fds }, configFiles: [], dirs: [], sources: [], owned: [], notes: [] })
    const oneLine = /^ctl-sandbox: [^\n]+\n$/

    it('on any option outside the subset ctl emits, or a malformed one: exit 1, one line on stderr, nothing run', async () => {
      const refused: string[][] = [
        ['--bogus'],
        ['--help'],
        ['--version'],
        ['-v'],
        ['--bind-try', '/tmp', '/x'],
        ['--dev-bind', '/dev', '/dev'],
        ['--cap-add', 'ALL'],
        ['--setenv', 'A', 'B'],
        ['--as-pid-1'],
        ['--share-net'],
        ['--unshare-all'],
        ['--userns', '3'],
        ['--seccomp', '4'],
        ['--args', '4'],
        ['--file', '4', '/x'],
        ['--bind-data', '4', '/x'],
        ['--uid', 'abc'],
        ['--uid', '-1'],
        ['--uid', ''],
        ['--gid', '1x'],
        ['--perms', '8'],
        ['--perms', '0777x'],
        ['--perms', '17777'],
        ['--info-fd', 'x'],
        ['--add-seccomp-fd', ''],
        ['--ro-bind-data', '4'],
        ['--hostname'],
        ['--bind', '/tmp'],
      ]
      for (const opts of refused) {
        const r = await runArgs(['--unshare-user', ...opts, '--', 'echo', 'ran'])
        expect([r.code, r.out, r.err], opts.join(' ')).toEqual([1, '', expect.stringMatching(oneLine)])
      }
      for (const args of [['--unshare-user'], ['--unshare-user', '--'], []]) {
        const r = await runArgs(args)
        expect([r.code, r.out, r.err], `no command: ${args.join(' ')}`).toEqual([1, '', expect.stringMatching(oneLine)])
      }
    })

    it('on a set-up failure: exit 1 with the failure and its errno, the command not run', async () => {
      const missingSource = await runArgs(['--unshare-user', '--ro-bind', '/', '/', '--bind', path.join(base, 'no-such-folder'), '/x', '--', 'echo', 'ran'])
      expect([missingSource.code, missingSource.out]).toEqual([1, ''])
      expect(missingSource.err).toMatch(oneLine)
      expect(missingSource.err).toContain('no-such-folder')
      expect(missingSource.err).toMatch(/: No such file or directory\n$/)
      // A seccomp filter that cannot be loaded (not whole instructions, an fd not open): never run without it.
      const badFilter = await runArgs(['--unshare-user', '--info-fd', '3', '--add-seccomp-fd', '4', '--ro-bind', '/', '/', '--', 'echo', 'ran'], ['abc'])
      expect([badFilter.code, badFilter.out], badFilter.err).toEqual([1, ''])
      expect(badFilter.err).toMatch(oneLine)
      const closedFd = await runArgs(['--unshare-user', '--add-seccomp-fd', '9', '--ro-bind', '/', '/', '--', 'echo', 'ran'])
      expect([closedFd.code, closedFd.out], closedFd.err).toEqual([1, ''])
      expect(closedFd.err).toMatch(oneLine)
      const closedData = await runArgs(['--unshare-user', '--ro-bind', '/', '/', '--ro-bind-data', '9', '/tmp/x', '--', 'echo', 'ran'])
      expect([closedData.code, closedData.out], closedData.err).toEqual([1, ''])
      expect(closedData.err).toMatch(oneLine)
      const noProgram = await runArgs(['--unshare-user', '--ro-bind', '/', '/', '--', '/no/such/program'])
      expect([noProgram.code, noProgram.out]).toEqual([1, ''])
      expect(noProgram.err).toMatch(oneLine)
    })

    it('on a bind source with a link on its way, where bwrap follows it: a link a step swapped into its volume leads nowhere', async () => {
      // A step's volume, the folder of another workspace, and a link in the volume to it (planted after the
      // runtime's checks): the layout gives the source as a path inside the volume; ctl-sandbox refuses to follow.
      const volume = enterable('ctl-swap-vol-')
      const other = enterable('ctl-swap-other-')
      fs.writeFileSync(path.join(other, 'secret'), 'theirs')
      fs.chmodSync(path.join(other, 'secret'), 0o644)
      fs.symlinkSync(other, path.join(volume, 'data'))
      const args = ['--unshare-user', '--ro-bind', '/', '/', '--bind', path.join(volume, 'data'), '/mnt', '--', 'cat', '/mnt/secret']
      const r = await runArgs(args)
      expect([r.code, r.out]).toEqual([1, ''])
      expect(r.err).toMatch(oneLine)
      expect(r.err).toContain('a symbolic link on the way')
      if (hasBwrap) {
        // The reference follows it: what this difference is for.
        const theirs = await runIn('bwrap', { spec: { mode: 'bubblewrap', command: BWRAP, args, env: { PATH: '/usr/bin:/bin' }, fdData: [] }, configFiles: [], dirs: [], sources: [], owned: [], notes: [] })
        expect([theirs.code, theirs.out]).toEqual([0, 'theirs'])
      }
      fs.rmSync(volume, { recursive: true, force: true })
      fs.rmSync(other, { recursive: true, force: true })
    })
  })
})

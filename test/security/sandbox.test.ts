// Issue 9, the sandbox: hostile steps of an ordinary workflow, run by a real control plane that
// runs as root (in this process, in CI) and by one that runs as an ordinary user (a separate
// process). Each step tries to read the control plane's secrets, another run's folder, to reach
// the step host's socket, to remount, unmount, make a device, ptrace, open a raw socket and write
// outside its volumes;
// every attempt must fail, the host files stay untouched, and the control plane keeps working.

import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LogLineRecord } from '../../src/api/types.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { CtlClient } from '../../src/client/client.js'
import { hasBwrap, launch, run, shPod, tempDir, texts } from '../runtime/helpers.js'
import { doc, waitFor, waitForRunEnd, workflow } from '../server/helpers.js'
import { repoRoot } from '../cli/helpers.js'
import { isRoot, ORDINARY_UID, startRootPlane, startUserPlane, type Plane } from './plane.js'

const ref = (name: string) => ({ workspace: 'public', type: 'workflow', name })
const hasDist = fs.existsSync(path.join(repoRoot, 'dist', 'commands'))
/** ptrace and raw sockets are tried from python3 (ctypes, socket) where the host has it. */
const hasPython = fs.existsSync('/usr/bin/python3')

/** One line per attempt: `<label> rc=<exit code> <first 300 bytes of its output>`. */
const ATTEMPT = `attempt() { label=$1; shift; out=$("$@" 2>&1); rc=$?; printf '%s rc=%s %s\\n' "$label" "$rc" "$(printf %s "$out" | head -c 300 | tr '\\n' ' ')"; }`

const CONNECT = `const s = require('net').connect(process.argv[1]); s.on('connect', () => { console.log('connected'); process.exit(0) }); s.on('error', (e) => { console.log(e.code); process.exit(1) })`

function hostileScript(plane: Plane, victimLog: string): string {
  const d = plane.dataDir
  const files = fs.readdirSync(d).filter((f) => fs.statSync(path.join(d, f)).isFile())
  return [
    ATTEMPT,
    // Controls: what a step may do works, so the failures below are the sandbox's doing.
    `attempt control:tmp sh -c 'echo ok > /tmp/ok && cat /tmp/ok'`,
    `attempt control:volume sh -c 'echo from-step > /scratch/ok'`,
    `attempt control:node node -e 'process.exit(0)'`,
    `attempt id id -u`,
    `attempt caps grep CapEff /proc/self/status`,
    // The control plane's files, each by its real host path (master.key, admin.apikey, ctl.db, ...).
    ...files.map((f) => `attempt read:${f} cat ${path.join(d, f)}`),
    `attempt read:master-key cat ${plane.masterKeyFile}`,
    `attempt list:master-key ls ${path.dirname(plane.masterKeyFile)}`,
    `attempt list:data ls ${d}`,
    `attempt read:other-run cat ${victimLog}`,
    `attempt list:other-run ls ${path.dirname(victimLog)}`,
    `attempt socket node -e "${CONNECT}" ${path.join(d, 'runs', 'host.sock')}`,
    `attempt mount mount -o remount,bind,rw /`,
    `attempt umount umount /tmp`,
    `attempt mknod mknod /tmp/sda b 8 0`,
    `attempt userns unshare -r true`,
    ...(hasPython
      ? [
          `attempt ptrace python3 -c 'import ctypes, sys; sys.exit(0 if ctypes.CDLL(None).ptrace(0, 0, 0, 0) == 0 else 1)'`,
          `attempt raw-socket python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)'`,
        ]
      : []),
    `attempt write:root sh -c 'echo x > /ctl-hostile'`,
    `attempt write:etc sh -c 'echo x > /etc/ctl-hostile'`,
    `attempt write:usr touch /usr/ctl-hostile`,
    `attempt write:root-home mkdir -p /root/ctl-hostile`,
    // In its private /tmp this may well succeed: the evidence is the host's data folder afterwards.
    `attempt write:data sh -c 'mkdir -p ${d} && echo x > ${path.join(d, 'ctl-hostile')}'`,
    'exit 0',
  ].join('\n')
}

/** `label` → [exit code, output] from the attempt lines of a log. */
function attempts(lines: LogLineRecord[]): Map<string, [number, string]> {
  const out = new Map<string, [number, string]>()
  for (const l of lines) {
    const m = /^(\S+) rc=(\d+) ?(.*)$/.exec(l.text)
    if (m) out.set(m[1]!, [Number(m[2]), m[3]!])
  }
  return out
}

const HOSTILE_LABELS = [
  ...['read:master-key', 'list:master-key', 'list:data', 'read:other-run', 'list:other-run', 'socket', 'mount', 'umount', 'mknod', 'userns'],
  ...['write:root', 'write:etc', 'write:usr', 'write:root-home'],
  ...(hasPython ? ['ptrace', 'raw-socket'] : []),
]

type PlaneKind = [string, () => Promise<Plane>, string | undefined]
const kinds: PlaneKind[] = [
  ['a control plane running as root', startRootPlane, isRoot ? undefined : 'this test process is not root'],
  ['a control plane running as an ordinary user', startUserPlane, hasDist ? undefined : 'dist/ is missing: run `npm run build` (npm test does it)'],
]

describe.skipIf(!hasBwrap)('the sandbox (bubblewrap installed)', () => {
  describe.each(kinds)('hostile steps under %s', (_name, start, skip) => {
    let plane: Plane | undefined
    beforeAll(async () => {
      if (!skip) plane = await start()
    }, 60_000)
    afterAll(async () => {
      await plane?.stop()
    })

    it.skipIf(skip !== undefined)(`cannot reach the control plane's files, another run, the step host, mounts or devices${skip ? ` (skipped: ${skip})` : ''}`, async () => {
      const p = plane!
      const before = new Map(fs.readdirSync(p.dataDir).filter((f) => fs.statSync(path.join(p.dataDir, f)).isFile()).map((f) => [f, fs.readFileSync(path.join(p.dataDir, f))]))
      expect([...before.keys()]).toEqual(expect.arrayContaining(['admin.apikey', 'ctl.db']))
      const masterKey = fs.readFileSync(p.masterKeyFile)

      // Another user's run, still running while the hostile step looks for it.
      await p.client.apply('public', [doc(workflow('victim', { work: 'echo victim-output-4711; sleep 60' }))])
      const victim = await waitFor('the victim run', () => p.client.runs(ref('victim')), (r) => r.length > 0)
      await waitFor('the victim step to run', () => p.client.run(victim[0]!.id), (d) => d.steps.some((s) => s.state === 'running'))
      // The attempt's log in the runtime's logs folder (<run>+<step>.<attempt>.ndjson).
      const logsDir = path.join(p.dataDir, 'runs', '.logs')
      const logName = (entries: string[]) => entries.find((e) => e.startsWith(`${victim[0]!.id}+`) && e.endsWith('.ndjson'))
      const victimLog = path.join(logsDir, logName(await waitFor('the victim attempt log', () => fs.promises.readdir(logsDir).catch(() => []), (e) => logName(e) !== undefined))!)
      const readLog = async () => fs.promises.readFile(victimLog, 'utf8').catch(() => '')
      await waitFor("the victim's output in its attempt log", readLog, (t) => t.includes('victim-output-4711'))

      const volume = { name: 'scratch', version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } }
      const hostile = {
        name: 'hostile',
        version: 'v2alpha',
        type: 'workflow',
        spec: { dag: [{ name: 'escape', spec: { use: { volumes: [{ id: 'scratch', directory: '/scratch' }] }, stack: 'script', stackSpec: { interpreter: 'sh', script: hostileScript(p, victimLog) } } }] },
      }
      await p.client.apply('public', [doc(volume), doc(hostile, 'hostile.yaml', 1)])
      const [hr] = await waitFor('the hostile run', () => p.client.runs(ref('hostile')), (r) => r.length > 0)
      const done = await waitForRunEnd(p.client, hr!.id)
      const lines = await p.client.logPage(hr!.id, { step: 'escape' })
      const got = attempts(lines)
      const report = texts(lines as never).join('\n')
      if (process.env.CTL_TEST_SHOW) console.log(report)
      expect(done.run.state, report).toBe('succeeded')

      // The controls worked.
      expect(got.get('control:tmp'), report).toEqual([0, 'ok'])
      expect(got.get('control:volume')?.[0], report).toBe(0)
      expect(got.get('control:node')?.[0], report).toBe(0)
      expect(got.get('caps'), report).toEqual([0, 'CapEff:\t0000000000000000'])
      const scratch = path.join(p.dataDir, 'volumes', 'public', 'scratch', 'ok')
      expect(fs.readFileSync(scratch, 'utf8')).toBe('from-step\n')
      // Not host root, even when the control plane is: the file it wrote belongs to an ordinary user.
      expect(fs.statSync(scratch).uid).toBe(p.uid === 0 ? ORDINARY_UID : p.uid)

      // Every hostile attempt failed.
      for (const f of before.keys()) {
        const [rc, out] = got.get(`read:${f}`) ?? [-1, 'missing']
        expect(rc, `read:${f}: ${out}`).not.toBe(0)
        expect(out).toMatch(/No such file or directory/)
      }
      for (const label of HOSTILE_LABELS) {
        const [rc, out] = got.get(label) ?? [0, 'missing']
        expect(rc, `${label}: ${out}\n${report}`).not.toBe(0)
      }
      expect(report).not.toContain('victim-output-4711')
      expect(got.get('socket')?.[1]).toBe('ENOENT')
      expect(got.get('mount')?.[1]).toMatch(/superuser|permission denied|not permitted/i)
      expect(got.get('mknod')?.[1]).toMatch(/not permitted/i)
      if (hasPython) expect(got.get('raw-socket')?.[1]).toMatch(/PermissionError|not permitted/)

      // The host is untouched.
      // The keys are as they were (the database and the logs change: the control plane writes them).
      for (const [f, content] of before) if (/key/.test(f)) expect(fs.readFileSync(path.join(p.dataDir, f)).equals(content), f).toBe(true)
      expect(fs.readFileSync(p.masterKeyFile).equals(masterKey)).toBe(true)
      expect(got.get('read:master-key')?.[1]).toMatch(/No such file or directory/)
      for (const f of ['ctl-hostile']) expect(fs.existsSync(path.join(p.dataDir, f))).toBe(false)
      for (const f of ['/ctl-hostile', '/etc/ctl-hostile', '/usr/ctl-hostile', '/root/ctl-hostile']) expect(fs.existsSync(f), f).toBe(false)
      expect(fs.existsSync('/tmp/sda')).toBe(false)

      await p.client.stop(ref('victim'))
      await waitForRunEnd(p.client, victim[0]!.id)
    }, 90_000)

    it.skipIf(skip !== undefined)('network: none in the manifest: the step cannot reach the control plane; its sibling with the default network can', async () => {
      const p = plane!
      const port = new URL(p.url).port
      const probe = (label: string) => `node -e "const s = require('net').connect(${port}, '127.0.0.1'); s.on('connect', () => { console.log('${label} connected'); process.exit(0) }); s.on('error', (e) => { console.log('${label} ' + e.code); process.exit(0) })"`
      const wf = {
        name: 'offline', version: 'v2alpha', type: 'workflow',
        spec: {
          network: 'none',
          dag: [
            { name: 'cut-off', spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: probe('cut-off') } } },
            { name: 'online', spec: { network: 'default', stack: 'script', stackSpec: { interpreter: 'sh', script: probe('online') } } },
          ],
        },
      }
      await p.client.apply('public', [doc(wf, 'offline.yaml')])
      const [r] = await waitFor('the offline run', () => p.client.runs(ref('offline')), (x) => x.length > 0)
      expect((await waitForRunEnd(p.client, r!.id)).run.state).toBe('succeeded')
      expect((await p.client.logPage(r!.id, { step: 'cut-off' })).map((l) => l.text)).toEqual(['cut-off ECONNREFUSED'])
      expect((await p.client.logPage(r!.id, { step: 'online' })).map((l) => l.text)).toEqual(['online connected'])
    }, 60_000)

    it.skipIf(skip !== undefined)("a step's wrong keys do not lock another user's key out", async () => {
      const p = plane!
      await p.client.createUser({ id: 'carol', name: 'Carol', type: 'person' })
      const carolKey = (await p.client.createApiKey('carol', { name: 'laptop' })).token
      // From inside a step, like any neighbour on the machine: 40 wrong keys, varied and repeated, and no key at all.
      const flood = `node -e "(async () => { let n = 0; for (let i = 0; i < 40; i++) { const key = i % 2 ? 'ctl_' + i + 'x'.repeat(40) : 'ctl_aaaaaaaaaaaa' + i; const r = await fetch(process.env.CTL_SERVER + '/api/v1/whoami', { headers: { authorization: 'Bearer ' + key } }); if (r.status === 429) n++; await fetch(process.env.CTL_SERVER + '/api/v1/whoami') } console.log('limited ' + n) })()"`
      await p.client.apply('public', [doc(workflow('flood', { guess: flood }))])
      const [r] = await waitFor('the flood run', () => p.client.runs(ref('flood')), (x) => x.length > 0)
      expect((await waitForRunEnd(p.client, r!.id)).run.state).toBe('succeeded')
      const out = (await p.client.logPage(r!.id, { step: 'guess' })).map((l) => l.text)
      // The shared prefix was limited: the flood did meet the limiter.
      expect(out[0]).toMatch(/^limited [1-9]\d*$/)
      // Carol's key and the admin's still work at once, from the same loopback address.
      const carol = new CtlClient({ baseUrl: p.url, apiKey: carolKey })
      expect((await carol.whoami()).id).toBe('carol')
      expect((await p.client.whoami()).id).toBe('admin')
    }, 60_000)

    it.skipIf(skip !== undefined)('still runs an ordinary workflow to the end afterwards', async () => {
      const p = plane!
      await p.client.apply('public', [doc(workflow('ordinary', { a: 'echo one', b: 'echo two' }))])
      const [r] = await waitFor('the ordinary run', () => p.client.runs(ref('ordinary')), (x) => x.length > 0)
      expect((await waitForRunEnd(p.client, r!.id)).run.state).toBe('succeeded')
      expect((await p.client.logPage(r!.id, { step: 'b' })).map((l) => l.text)).toEqual(['two'])
    }, 60_000)
  })

  describe('network: none (the Pod annotation ctl.dev/network)', () => {
    let server: net.Server
    let port = 0
    const stateDir = tempDir()
    beforeAll(async () => {
      server = net.createServer((s) => s.on('error', () => {}).end('hello\n'))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      port = (server.address() as net.AddressInfo).port
    })
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve))
      fs.rmSync(stateDir, { recursive: true, force: true })
    })
    const reach = () => `node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(1) })"`

    it('a step without network cannot connect to a port of the host; with the default network it can', async () => {
      const rt = createLocalRuntime({ stateDir, sandbox: 'bubblewrap' })
      const off = shPod(reach())
      off.metadata!.annotations = { 'ctl.dev/network': 'none' }
      const r = await run(rt, launch(off))
      expect(r.exit.reason).toBe('Error')
      expect(texts(r.lines)).toEqual(['ECONNREFUSED'])
      expect(r.handle.data.notes).toEqual(expect.arrayContaining([expect.stringMatching(/^network: none/)]))
      const on = await run(rt, launch(shPod(reach())))
      expect(texts(on.lines)).toEqual(['connected'])
    })

    it('plain processes refuse such a step instead of running it with network', async () => {
      const rt = createLocalRuntime({ stateDir, sandbox: 'none' })
      const off = shPod('echo ran')
      off.metadata!.annotations = { 'ctl.dev/network': 'none' }
      const r = await run(rt, launch(off))
      expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
      expect(r.exit.message).toMatch(/network: none needs bubblewrap/)
      expect(r.lines).toEqual([])
    })
  })
})

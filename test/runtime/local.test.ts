// The local runtime with real processes, in both modes (bubblewrap where installed, plain always).

import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { attemptLog, handleData, readExit } from '../../src/runtime/local/files.js'
import type { Runtime } from '../../src/runtime/types.js'
import { collect, filesContaining, groupExists, hasBwrap, launch, loggedTexts, pod, run, shPod, tempDir, texts, until } from './helpers.js'

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)

describe.each(modes)('local runtime, sandbox %s', (mode) => {
  let stateDir: string
  let rt: Runtime
  beforeAll(() => {
    stateDir = tempDir()
    rt = createLocalRuntime({ stateDir, sandbox: mode })
  })
  afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }))

  it('reports its mode', () => {
    expect(rt.info()).toMatchObject({ name: 'local', sandbox: mode === 'none' ? 'none' : 'bubblewrap' })
  })

  it('captures stdout and stderr in order, with timestamps, and a partial last line', async () => {
    const r = await run(rt, launch(shPod('echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three; printf tail')))
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(r.lines.map((l) => [l.stream, l.text])).toEqual([
      ['stdout', 'one'],
      ['stderr', 'two'],
      ['stdout', 'three'],
      ['stdout', 'tail'],
    ])
    for (const l of r.lines) expect(new Date(l.time).toISOString()).toBe(l.time)
    expect(r.lines.map((l) => l.time)).toEqual([...r.lines.map((l) => l.time)].sort())
    // The last batch ends where the step's output ends: only the exit record follows it.
    const log = fs.readFileSync(attemptLog(handleData(r.handle)), 'utf8')
    expect(r.batches.at(-1)!.offset).toBe(Buffer.byteLength(log.slice(0, log.lastIndexOf('\n{"e":') + 1)))
    expect(log.slice(log.lastIndexOf('\n{"e":') + 1)).toMatch(/^\{"e":\{"exitCode":0,"reason":"Completed".*\}\}\n$/)
  })

  it('reports a failing exit code', async () => {
    const r = await run(rt, launch(shPod('echo bad >&2; exit 3')))
    expect(r.exit).toMatchObject({ exitCode: 3, reason: 'Error', message: 'exit code 3' })
    expect(texts(r.lines)).toEqual(['bad'])
  })

  it('expands $(VAR) in command and args from the container env, $$(VAR) stays literal', async () => {
    const p = pod({
      command: ['sh', '-c'],
      args: ['echo "$1 $2 $3"', 'x', '$(GREETING)', '$$(GREETING)', '$(MISSING)'],
      env: [
        { name: 'NAME', value: 'world' },
        { name: 'GREETING', value: 'hello-$(NAME)' },
      ],
    })
    const r = await run(rt, launch(p))
    expect(texts(r.lines)).toEqual(['hello-world $(GREETING) $(MISSING)'])
  })

  it('gives a clean environment: secrets, config, fieldRefs and envFrom, nothing of the control plane', async () => {
    process.env.CTL_APIKEY = 'key-of-the-control-plane'
    process.env.CTL_MASTER_KEY = 'master-of-the-control-plane'
    try {
      const p = pod({
        command: ['sh', '-c', 'env | sort; test "$TOKEN" = "s3cr3t-token" && echo token-ok'],
        env: [
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'run-secret', key: 'token' } } },
          { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'run-config', key: 'level' } } },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        ],
        envFrom: [{ configMapRef: { name: 'run-config' }, prefix: 'CFG_' }],
      })
      const r = await run(rt, launch(p, { secretData: { token: 's3cr3t-token' }, configData: { level: 'debug' } }))
      const out = texts(r.lines)
      expect(out).toContain('token-ok')
      expect(out).toContain('LEVEL=debug')
      expect(out).toContain('CFG_level=debug')
      expect(out).toContain('POD=wf-step-pod')
      expect(out).toContain('APP=ctl')
      expect(out.some((l) => l.startsWith('PATH='))).toBe(true)
      expect(out.join('\n')).not.toMatch(/CTL_APIKEY|CTL_MASTER_KEY|control-plane/)
      // The secret reached the step, but the log on disk has it redacted.
      expect(out).toContain('TOKEN=[redacted]')
      expect(filesContaining(stateDir, 's3cr3t-token')).toEqual([])
    } finally {
      delete process.env.CTL_APIKEY
      delete process.env.CTL_MASTER_KEY
    }
  })

  it('mounts config files the step can run, and secret files that never reach the state folder', async () => {
    const p = pod(
      {
        command: ['sh', '/etc/ctl/config/run.sh'],
        // Paths go through argv: in plain mode they are rewritten there, not inside files.
        args: ['/etc/ctl/config/settings.yaml', '/etc/ctl/secrets/db/password', '/etc/ctl/secrets/db'],
        volumeMounts: [
          { name: 'config', mountPath: '/etc/ctl/config', readOnly: true },
          { name: 'secrets', mountPath: '/etc/ctl/secrets', readOnly: true },
        ],
      },
      {
        volumes: [
          { name: 'config', configMap: { name: 'run-config', items: [{ key: 'script', path: 'run.sh' }, { key: 'settings', path: 'settings.yaml' }] } },
          { name: 'secrets', secret: { secretName: 'run-secret', items: [{ key: 'pw', path: 'db/password' }] } },
        ],
      },
    )
    const script = [
      'cat "$1"',
      // compared upper-cased so that the (non-secret) script does not hold the secret itself
      'test "$(tr a-z A-Z < "$2")" = "PA55-W0RD-XYZ" && echo secret-ok',
      'ls "$3"',
    ].join('\n')
    const l = launch(p, { configData: { script, settings: 'mode: fast\n' }, secretData: { pw: 'pa55-w0rd-xyz' } })
    const r = await run(rt, l)
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual(['mode: fast', 'secret-ok', 'password'])
    expect(filesContaining(stateDir, 'pa55-w0rd-xyz')).toEqual([])
    // Config files to mount: in plain mode the attempt has its folder for them (bwrap gets them through fds); its log
    // lies in the logs folder, named after the run, the step and the attempt.
    expect(fs.existsSync(r.handle.data.attemptDir as string)).toBe(mode === 'none')
    expect(attemptLog(handleData(r.handle))).toBe(path.join(stateDir, '.logs', `${l.key.runId}+main.0.ndjson`))
    // Plain mode kept the secret files in memory (/dev/shm) and removed them at exit.
    if (mode === 'none') expect(r.handle.data.shmDir).toMatch(/^\/dev\/shm\/ctl-/)
    if (r.handle.data.shmDir) expect(fs.existsSync(r.handle.data.shmDir as string)).toBe(false)
  })

  it('enforces the deadline', async () => {
    const r = await run(rt, launch(shPod('echo started; sleep 5; echo never', { activeDeadlineSeconds: 1 })))
    expect(r.exit.reason).toBe('DeadlineExceeded')
    expect(texts(r.lines)).toEqual(['started'])
  })

  it('kills the whole process group', async () => {
    const handle = await rt.start(launch(shPod('sleep 30 & sleep 30 & echo up; wait')))
    const stepPid = handle.data.stepPid as number
    const following = collect(rt, handle)
    await until(() => loggedTexts(handle.data.attemptDir).includes('up'), 'the step to start')
    await rt.kill(handle, 'stopped by alice')
    const r = await following
    expect(r.exit).toMatchObject({ reason: 'Killed', message: 'stopped by alice' })
    expect(texts(r.lines)).toEqual(['up'])
    await until(() => !groupExists(stepPid), 'the process group to be gone')
  })

  it('fails at start when the program does not exist', async () => {
    const r = await run(rt, launch(pod({ command: ['no-such-program-ctl'] })))
    expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
    expect(r.exit.message).toContain('no-such-program-ctl')
  })

  it('fails at start when a secret key is missing', async () => {
    const p = pod({ command: ['true'], env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'nope' } } }] })
    const r = await run(rt, launch(p))
    expect(r.exit).toMatchObject({ reason: 'StartError', message: 'env X: key "nope" not found in the run\'s secret' })
  })

  it('never starts the same attempt twice', async () => {
    const l = launch(shPod('true'))
    const h = await rt.start(l)
    await expect(rt.start(l)).rejects.toMatchObject({ code: 'E_CONFLICT', details: { handle: h } })
    await collect(rt, h)
  })

  it('creates one file for a step without config files or folders to mount: its log, no attempt folder nor run folder', async () => {
    const l = launch(shPod('echo alone'))
    const r = await run(rt, l)
    expect(r.exit.reason).toBe('Completed')
    const runDir = path.join(stateDir, l.key.runId)
    const log = path.join(stateDir, '.logs', `${l.key.runId}+${l.key.step}.${l.key.attempt}.ndjson`)
    expect(fs.existsSync(runDir)).toBe(false)
    expect(fs.readFileSync(log, 'utf8')).toContain('alone')
    expect(fs.statSync(log).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.dirname(log)).mode & 0o777).toBe(0o700)
    await rt.cleanup(r.handle)
    expect(fs.existsSync(log)).toBe(false)
    expect(fs.existsSync(runDir)).toBe(false)
  })

  it('reads a step that finished while nobody followed, and cleans up after it', async () => {
    const handle = await rt.start(launch(shPod('for i in 1 2 3 4 5; do echo line $i; done; exit 4')))
    await until(() => readExit(attemptLog(handleData(handle))) !== undefined, 'the step to finish')
    const r = await collect(rt, handle)
    expect(r.exit).toMatchObject({ exitCode: 4, reason: 'Error' })
    expect(texts(r.lines)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5'])
    await rt.cleanup(handle)
    expect(fs.existsSync(attemptLog(handleData(handle)))).toBe(false)
    expect(fs.existsSync(path.dirname(handle.data.attemptDir as string))).toBe(false)
  })

  it('cuts very long lines with a marker', async () => {
    const small = createLocalRuntime({ stateDir, sandbox: mode, maxLineBytes: 100 })
    const r = await run(small, launch(shPod('head -c 250 /dev/zero | tr "\\\\0" a; echo; echo short')))
    expect(texts(r.lines)).toEqual(['a'.repeat(100) + ' [line truncated by ctl at 100 bytes]', 'short'])
  })
})

// Step outputs on the local runtime, in bubblewrap and as plain processes: the step writes the file $CTL_OUTPUTS
// names (the container's terminationMessagePath), the step host reads it as the step ends (bounded, never through
// a link) and the exit carries it, redacted.

import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { readOutputsFile, takeOutputs } from '../../src/runtime/local/step-files.mjs'
import { OUTPUT_LIMITS, envNameProblem } from '../../src/manifest/limits.js'
import type { Runtime } from '../../src/runtime/types.js'
import { hasBwrap, launch, run, shPod, tempDir, texts } from './helpers.js'

/** A step as the Pod builder makes it: CTL_OUTPUTS set, the termination message file at that path. */
const outputsPod = (script: string) =>
  shPod(script, { container: { env: [{ name: 'CTL_OUTPUTS', value: '/ctl/outputs' }], terminationMessagePath: '/ctl/outputs', terminationMessagePolicy: 'File' } })

for (const mode of ['none', 'bubblewrap'] as const) {
  describe.skipIf(mode === 'bubblewrap' && !hasBwrap)(`outputs on the local runtime (sandbox: ${mode})`, () => {
    let stateDir: string
    let rt: Runtime
    beforeAll(() => {
      stateDir = tempDir()
      rt = createLocalRuntime({ stateDir, sandbox: mode })
    })
    afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }))

    it('hands back KEY=VALUE and multi-line values, each attempt with a fresh empty file', async () => {
      const script = [
        'test -s "$CTL_OUTPUTS" && echo not-empty',
        'echo "artifact=x" >> "$CTL_OUTPUTS"',
        `printf 'notes<<EOF\\nfirst line\\n\\nthird = line\\nEOF\\n' >> "$CTL_OUTPUTS"`,
        'echo \'files=["a.csv","b.csv"]\' >> "$CTL_OUTPUTS"',
        'echo "artifact=y" >> "$CTL_OUTPUTS"',
      ].join('; ')
      const r = await run(rt, launch(outputsPod(script)))
      expect(r.exit).toMatchObject({ reason: 'Completed', exitCode: 0 })
      expect(texts(r.lines)).toEqual([])
      expect(r.exit.outputs).toEqual({ artifact: 'y', notes: 'first line\n\nthird = line', files: '["a.csv","b.csv"]' })
      if (mode === 'none') expect(r.handle.data.attemptDir).toBeTypeOf('string')
    })

    it('has no outputs when the step writes none, and none for a Pod without a termination message file', async () => {
      const quiet = await run(rt, launch(outputsPod('true')))
      expect(quiet.exit).toMatchObject({ reason: 'Completed' })
      expect(quiet.exit.outputs).toBeUndefined()
      const bare = await run(rt, launch(shPod('echo "${CTL_OUTPUTS:-unset}"')))
      expect(texts(bare.lines)).toEqual(['unset'])
      expect(bare.exit.outputs).toBeUndefined()
    })

    it('redacts secret values in outputs like log lines', async () => {
      const r = await run(rt, launch(outputsPod('echo "token=Bearer s3cr3t-value-42" >> "$CTL_OUTPUTS"; echo "plain=ok" >> "$CTL_OUTPUTS"'), { redact: ['s3cr3t-value-42'] }))
      expect(r.exit.outputs).toEqual({ token: 'Bearer [redacted]', plain: 'ok' })
    })

    it('fails a step whose outputs are malformed, naming the line', async () => {
      const r = await run(rt, launch(outputsPod(`printf 'a=1\\nb=2\\nx y\\n' >> "$CTL_OUTPUTS"`)))
      expect(r.exit).toMatchObject({ reason: 'Error', exitCode: 0, message: 'outputs: line 3: "x y" is not KEY=VALUE or KEY<<DELIMITER' })
      expect(r.exit.outputs).toBeUndefined()
    })

    it('fails a step whose outputs are over 1 MiB', async () => {
      const r = await run(rt, launch(outputsPod(`printf 'k=' > "$CTL_OUTPUTS"; head -c ${OUTPUT_LIMITS.maxBytes} /dev/zero | tr '\\0' a >> "$CTL_OUTPUTS"`)))
      expect(r.exit).toMatchObject({ reason: 'Error', message: 'outputs: the file is over the limit of 1 MiB' })
      expect(r.exit.outputs).toBeUndefined()
    })

    it('keeps the outputs of a failed step, and its own failure first', async () => {
      const r = await run(rt, launch(outputsPod('echo "partial=1" >> "$CTL_OUTPUTS"; exit 3')))
      expect(r.exit).toMatchObject({ reason: 'Error', exitCode: 3, outputs: { partial: '1' } })
      const bad = await run(rt, launch(outputsPod('echo "nonsense" >> "$CTL_OUTPUTS"; exit 3')))
      expect(bad.exit.message).toBe('exit code 3; outputs: line 1: "nonsense" is not KEY=VALUE or KEY<<DELIMITER')
    })

    it('never reads a file the step put a link to in place of its outputs file', async () => {
      // A file only the control plane's user may read; the step tries to have the host read it for it.
      const secretDir = tempDir('ctl-outputs-secret-')
      const secret = path.join(secretDir, 'secret')
      fs.writeFileSync(secret, 'leak=TOPSECRET\n', { mode: 0o600 })
      try {
        const script = `rm -f "$CTL_OUTPUTS" 2>/dev/null; ln -s ${secret} "$CTL_OUTPUTS" 2>/dev/null; test -L "$CTL_OUTPUTS" && echo replaced || echo kept`
        const r = await run(rt, launch(outputsPod(script)))
        expect(JSON.stringify(r.exit)).not.toContain('TOPSECRET')
        expect(r.exit.outputs).toBeUndefined()
        const [said] = texts(r.lines)
        if (said === 'replaced') {
          // It could (a plain step of the control plane's own user): the host does not follow the link, and fails the step.
          expect(r.exit).toMatchObject({ reason: 'Error', message: 'outputs: $CTL_OUTPUTS was replaced by a symbolic link; it was not followed' })
        } else {
          // It could not (bubblewrap binds the file itself; a step user may not write the attempt folder).
          expect(said).toBe('kept')
          expect(r.exit).toMatchObject({ reason: 'Completed' })
        }
        if (mode === 'bubblewrap') expect(said).toBe('kept')
      } finally {
        fs.rmSync(secretDir, { recursive: true, force: true })
      }
    })
  })
}

describe('reading an outputs file on the host', () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir('ctl-outputs-read-')
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  const limits = { path: '', ...OUTPUT_LIMITS }

  it('does not follow a link, does not block on a pipe, reads no more than the bound + 1', () => {
    const target = path.join(dir, 'target')
    fs.writeFileSync(target, 'leak=1\n')
    const link = path.join(dir, 'link')
    fs.symlinkSync(target, link)
    expect(takeOutputs({ ...limits, path: link }, (v) => v)).toEqual({ problem: '$CTL_OUTPUTS was replaced by a symbolic link; it was not followed' })
    const fifo = path.join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    expect(takeOutputs({ ...limits, path: fifo }, (v) => v)).toEqual({ problem: '$CTL_OUTPUTS was replaced by something other than a file' })
    expect(takeOutputs({ ...limits, path: path.join(dir, 'missing') }, (v) => v)).toEqual({})
    const big = path.join(dir, 'big')
    fs.writeFileSync(big, 'k=' + 'x'.repeat(100))
    expect(readOutputsFile(big, 10).text).toBe('k=xxxxxxxxx') // 11 bytes: one over the bound
    expect(takeOutputs({ ...limits, path: big, maxBytes: 10 }, (v) => v)).toEqual({ problem: 'the file is over the limit of 10 bytes' })
    expect(takeOutputs({ ...limits, path: big }, (v) => v.toUpperCase())).toEqual({ outputs: { k: 'X'.repeat(100) } })
  })

  it('CTL_OUTPUTS is reserved: a manifest cannot set it', () => {
    expect(envNameProblem('CTL_OUTPUTS')).toMatch(/reserved/)
  })
})

// The control plane is SIGKILLed while a step runs: the step goes on, and a new
// control plane reads every line and the exit. The "control plane" is a child
// node process running the runtime transpiled to JS (as the build would ship it,
// supervisor.mjs copied next to index.js), since a process cannot SIGKILL itself.

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import type { LogLine, RuntimeHandle } from '../../src/runtime/types.js'
import { hasBwrap, tempDir, texts } from './helpers.js'

const root = path.resolve(import.meta.dirname, '../..')
let build: string

function transpile(rel: string): void {
  const out = ts.transpileModule(fs.readFileSync(path.join(root, rel), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  }).outputText
  const dest = path.join(build, rel.replace(/\.ts$/, '.js'))
  fs.mkdirSync(path.dirname(dest), { recursive: true })
  fs.writeFileSync(dest, out)
}

const CONTROL_PLANE = `
import { createLocalRuntime } from './src/runtime/local/index.js'
const [stateDir, sandbox] = process.argv.slice(2)
const rt = createLocalRuntime({ stateDir, sandbox })
const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'm', command: ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.1; done'] }] } }
const h = await rt.start({ key: { runId: 'crash', step: 's', attempt: 0 }, pod, secretData: {}, configData: {}, volumeDirs: {} })
console.log(JSON.stringify(h))
await rt.follow(h, 0, async (b) => { for (const l of b.lines) console.log(l.text) })
`

beforeAll(() => {
  build = tempDir('ctl-build-')
  transpile('src/errors.ts')
  transpile('src/runtime/types.ts')
  transpile('src/manifest/quantity.ts')
  transpile('src/home.ts')
  transpile('src/liveness.ts')
  transpile('src/package-root.ts')
  transpile('src/api/errors.ts')
  // The outputs parser's bounds (src/manifest/limits.ts) and what that module needs.
  for (const f of ['src/runtime/outputs.ts', 'src/manifest/limits.ts', 'src/duration.ts', 'src/manifest/issues.ts', 'src/manifest/model.ts']) transpile(f)
  for (const f of fs.readdirSync(path.join(root, 'src/runtime/local'))) {
    if (f.endsWith('.ts')) transpile(`src/runtime/local/${f}`)
    if (f.endsWith('.mjs')) fs.copyFileSync(path.join(root, 'src/runtime/local', f), path.join(build, 'src/runtime/local', f))
  }
  // Redaction's one owner, which the step host imports from src/logs.
  fs.mkdirSync(path.join(build, 'src/logs'), { recursive: true })
  fs.copyFileSync(path.join(root, 'src/logs/redact.mjs'), path.join(build, 'src/logs/redact.mjs'))
  // Named ctl: the runtime finds its own folder (src/package-root.ts) by that name.
  fs.writeFileSync(path.join(build, 'package.json'), '{"name":"ctl","version":"0.0.0","type":"module"}')
  fs.writeFileSync(path.join(build, 'control-plane.mjs'), CONTROL_PLANE)
})
const dirs: string[] = []
afterAll(() => [build, ...dirs].forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)

describe.each(modes)('control plane crash, sandbox %s', (mode) => {
  it('the step outlives a SIGKILLed control plane and its log is complete', async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const cp = spawn(process.execPath, [path.join(build, 'control-plane.mjs'), stateDir, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    await new Promise<void>((resolve, reject) => {
      cp.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('line 2\n')) resolve()
      })
      cp.on('exit', () => reject(new Error(`control plane ended early: ${out}`)))
    })
    cp.kill('SIGKILL')
    await new Promise((r) => cp.once('exit', r))
    const handle = JSON.parse(out.split('\n')[0]!) as RuntimeHandle
    const seenBeforeCrash = out.split('\n').slice(1).filter(Boolean)
    expect(seenBeforeCrash.length).toBeLessThan(8)

    const restarted = createLocalRuntime({ stateDir, sandbox: mode })
    const lines: LogLine[] = []
    const exit = await restarted.follow(handle, 0, async (b) => void lines.push(...b.lines))
    expect(exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(texts(lines)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `line ${i}`))
  })
})

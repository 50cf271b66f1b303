// `ctl login`'s hidden prompt on a real pseudo-terminal (util-linux `script`): echo is off when
// the prompt appears (so a key typed or pasted at once is never echoed) and on again after Enter
// and after Ctrl-C. The terminal's own settings (`stty -a`) are the witness.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from './helpers.js'

const built = join(repoRoot, 'dist', 'src', 'cli', 'verbs', 'login.js')
const fixture = join(repoRoot, 'test', 'cli', 'fixtures', 'ask-hidden.mjs')
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0
if (!existsSync(built)) console.warn(`skipping the terminal prompt test: ${built} does not exist; run \`npm run build\` first`)

/** Runs the fixture on a fresh terminal; types `keys` once the prompt shows; resolves with everything the terminal showed. */
function onTerminal(keys: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', `${process.execPath} ${fixture} ${built}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let shown = ''
    let typed = false
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      shown += d
      if (!typed && shown.includes('API key: ')) {
        typed = true
        child.stdin.write(keys)
      }
    })
    child.on('error', reject)
    child.on('close', () => {
      child.stdin.destroy()
      resolve(shown)
    })
  })
}

describe.skipIf(!hasScript || !existsSync(built))('the hidden API key prompt', () => {
  it('turns echo off before writing the prompt, never echoes the key, and restores echo after Enter', async () => {
    const shown = await onTerminal('hunter2-secret\r')
    expect(shown).toContain('[echo off at prompt]API key: ')
    expect(shown).not.toContain('hunter2')
    expect(shown).toContain('got 14 chars; echo on after')
  })

  it('restores echo after Ctrl-C and says the login was cancelled', async () => {
    const shown = await onTerminal('hunt\u0003')
    expect(shown).toContain('[echo off at prompt]')
    expect(shown).not.toContain('hunt\u0003')
    expect(shown).toContain('E_USAGE: login cancelled; echo on after')
  })
})

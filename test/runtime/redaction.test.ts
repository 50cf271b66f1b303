// Redaction of secret values in step logs: the matching rules (every encoded form, any
// percent-encoding variant, one marker whatever the length), and the step host applying them
// to complete lines before anything reaches the disk, in both sandbox modes.
import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import type { Runtime } from '../../src/runtime/types.js'
import { REDACTED, createRedactor, redactValues, redactionForms } from '../../src/secrets/redact.js'
import { collect, filesContaining, hasBwrap, launch, pod, run, shPod, tempDir, texts } from './helpers.js'

const VALUE = 'p@ss w/rd+42!'
const b64 = (s: string) => Buffer.from(s).toString('base64')

describe('redaction rules', () => {
  const redact = createRedactor(redactionForms([VALUE]))

  it('replaces the value as is, base64 (padded, unpadded, URL-safe) and JSON-escaped', () => {
    expect(redact(`a ${VALUE} b ${VALUE}`)).toBe(`a ${REDACTED} b ${REDACTED}`)
    expect(redact(`b64=${b64(VALUE)}`)).toBe(`b64=${REDACTED}`)
    expect(redact(`nopad=${b64(VALUE).replace(/=+$/, '')}.`)).toBe(`nopad=${REDACTED}.`)
    expect(redact(`url-safe=${Buffer.from(VALUE).toString('base64url')}`)).toBe(`url-safe=${REDACTED}`)
    const quoted = createRedactor(redactionForms(['say "hi"\\now']))
    expect(quoted(JSON.stringify({ v: 'say "hi"\\now' }))).toBe(`{"v":"${REDACTED}"}`)
  })

  it('replaces the hex forms, lower and upper case, packed (xxd -p) and byte by byte (od -tx1), also inside a longer dump', () => {
    const hex = Buffer.from(VALUE).toString('hex')
    expect(redact(`hex=${hex}`)).toBe(`hex=${REDACTED}`)
    expect(redact(`HEX=${hex.toUpperCase()}`)).toBe(`HEX=${REDACTED}`)
    expect(redact(`dump ${Buffer.from('user:' + VALUE + ';').toString('hex')}`)).toBe(`dump ${Buffer.from('user:').toString('hex')}${REDACTED}3b`)
    const od = hex.replace(/(..)(?!$)/g, '$1 ')
    expect(redact(` ${od}`)).toBe(` ${REDACTED}`)
    expect(redact(` ${od.toUpperCase()}`)).toBe(` ${REDACTED}`)
  })

  it('finds the value inside a longer base64 text at any byte offset (e.g. a Basic auth header)', () => {
    for (const prefix of ['u:', 'us:', 'use:', 'user:']) {
      const header = `Authorization: Basic ${b64(prefix + VALUE)}`
      const out = redact(header)
      expect(out).toContain(REDACTED)
      // What is left around the marker cannot be decoded back to more than a character of the value.
      const rest = out.replace('Authorization: Basic ', '').split(REDACTED).join('')
      expect(rest.length).toBeLessThanOrEqual(prefix.length * 2 + 4)
    }
  })

  it('finds the value in any percent-encoding: upper or lower hex, + or %20 for spaces, reserved characters kept or encoded', () => {
    const variants = [
      encodeURIComponent(VALUE), // p%40ss%20w%2Frd%2B42!
      encodeURI(VALUE), // p@ss%20w/rd+42!
      'p%40ss%20w/rd%2B42%21', // Python quote()
      'p%40ss+w%2Frd%2B42%21', // Python quote_plus()
      'p%40ss%20w%2frd%2b42%21', // lower-case hex
      new URLSearchParams({ v: VALUE }).toString().slice(2),
    ]
    for (const v of variants) expect(redact(`GET /login?pw=${v}&next=/home`)).toBe(`GET /login?pw=${REDACTED}&next=/home`)
    // Text that merely contains % or + is left alone.
    expect(redact('100% done + 2 more')).toBe('100% done + 2 more')
    expect(redact('%E2%82%AC and %ZZ')).toBe('%E2%82%AC and %ZZ')
  })

  it('never reveals the length: every value becomes the same marker; overlapping matches become one', () => {
    const r = createRedactor(redactionForms(['abc', 'a-much-longer-secret-value']))
    expect(r('x abc y a-much-longer-secret-value z')).toBe(`x ${REDACTED} y ${REDACTED} z`)
    expect(r('abca-much-longer-secret-value')).toBe(REDACTED)
  })

  it('redacts each longer line of a multi-line value, skips values too short to redact without garbling every line', () => {
    const cert = '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END KEY-----'
    const r = createRedactor(redactionForms([cert, 'on']))
    expect(r('line: MIIEvQIBADANBgkqhkiG9w0B')).toBe(`line: ${REDACTED}`)
    expect(r(`one line: ${b64(cert)}`)).toBe(`one line: ${REDACTED}`)
    expect(r('turn it on')).toBe('turn it on')
    expect(redactionForms(['on', ''])).toEqual([])
  })

  it('redacts the tail of a cut line when it starts a value', () => {
    expect(redact(`long line ... ${VALUE.slice(0, 6)}`, true)).toBe(`long line ... ${REDACTED}`)
    expect(redact(`long line ... ${VALUE.slice(0, 6)}`, false)).toBe(`long line ... ${VALUE.slice(0, 6)}`)
  })

  it('redactValues does it all in one call', () => {
    expect(redactValues(`failed: ${encodeURIComponent(VALUE)}`, [VALUE])).toBe(`failed: ${REDACTED}`)
    expect(redactValues('nothing to hide', [])).toBe('nothing to hide')
  })
})

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)

describe.each(modes)('the step host redacts before writing, sandbox %s', (mode) => {
  let stateDir: string
  let rt: Runtime
  beforeAll(() => {
    stateDir = tempDir()
    rt = createLocalRuntime({ stateDir, sandbox: mode, maxLineBytes: 64 })
  })
  afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }))

  it('joins a value written in two pieces, and redacts the forms the launch names', async () => {
    // The value reaches the step through its env only; the script prints it raw, base64, split and cut at 64 bytes.
    const script = [
      'echo "raw=$PW"',
      'printf "%s" "$PW" | base64',
      'printf "%s" "${PW%%/*}"; sleep 0.2; printf "/%s\\n" "${PW#*/}"',
      // 60 bytes of padding, then the value: the line is cut inside it.
      'printf "%060d%s tail\\n" 0 "$PW"',
      'echo done',
    ].join('\n')
    const l = launch(shPod(script, { container: { env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'pw' } } }] } }), {
      secretData: { pw: VALUE },
      redact: redactionForms(['unrelated-extra-form']),
    })
    const r = await run(rt, l)
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(texts(r.lines)).toEqual([
      `raw=${REDACTED}`,
      REDACTED,
      REDACTED,
      `${'0'.repeat(60)}${REDACTED} [line truncated by ctl at 64 bytes]`,
      'done',
    ])
    expect(filesContaining(stateDir, VALUE.slice(0, 4))).toEqual([])
  })

  it('redacts a start error quoting a command line that holds a value', async () => {
    const l = launch(pod({ command: [`/no/such/dir/${VALUE}`] }), { redact: redactionForms([VALUE]) })
    const r = await run(rt, l)
    expect(r.exit.reason).toBe('StartError')
    expect(r.exit.message).toContain(REDACTED)
    expect(r.exit.message).not.toContain(VALUE)
    expect(filesContaining(stateDir, VALUE)).toEqual([])
  })

  it('redacts the exit message too (a kill reason quoting a value)', async () => {
    const l = launch(shPod('echo started; sleep 30'), { redact: redactionForms([VALUE]) })
    const handle = await rt.start(l)
    await rt.kill(handle, `stopped because ${VALUE} leaked`)
    const c = await collect(rt, handle)
    expect(c.exit.reason).toBe('Killed')
    expect(c.exit.message).toBe(`stopped because ${REDACTED} leaked`)
  })
})

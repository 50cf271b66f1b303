// Secrets at rest and in logs, through the real HTTP API of a real control plane in a temp
// data dir: a step prints a secret raw, base64, URL-encoded and split across two writes; no
// form of it may be found in any file under the data dir (SQLite files and WAL included), and
// its log shows `[redacted]` for each.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import { startControlPlane } from '../../src/controlplane/control-plane.js'
import { defaultMasterKeyFile } from '../../src/secrets/master-key.js'
import { doc, startTestServer, waitFor, waitForRunEnd, workflow, type TestServer } from './helpers.js'
import { testStoreKind } from '../support/store.js'

const onSqlite = testStoreKind() === 'sqlite'

const VALUE = 'p@ss w/rd+42!'
const USER_VALUE = 'svc-reader-7'

/** Every encoding of VALUE the step prints, plus the ones a careless store could hold. */
function forbiddenForms(value: string): string[] {
  const b64 = Buffer.from(value).toString('base64')
  return [
    value,
    b64,
    b64.replace(/=+$/, ''),
    Buffer.from(value).toString('base64url'),
    encodeURIComponent(value),
    new URLSearchParams({ v: value }).toString().slice(2),
    Buffer.from(value).toString('hex'),
    Buffer.from(value).toString('hex').toUpperCase(),
  ]
}

/** Every file under `dir` (recursively) whose bytes contain one of `needles`, with the needle found. */
function filesContaining(dir: string, needles: string[]): string[] {
  const hits: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) {
        const bytes = fs.readFileSync(p)
        for (const n of needles) {
          if (bytes.includes(Buffer.from(n))) hits.push(`${path.relative(dir, p)}: ${JSON.stringify(n)}`)
        }
      }
    }
  }
  walk(dir)
  return hits
}

function listFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(path.relative(dir, p))
    }
  }
  walk(dir)
  return out
}

const secretDoc = (data: Record<string, string>) => ({
  name: 'db', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data },
})

// Every form is computed inside the step from $PW: the manifest itself holds no form of the value.
const SCRIPT = [
  'echo "raw=$PW"',
  'printf "b64=%s\\n" "$(printf %s "$PW" | base64)"',
  'echo "url=$(node -e \'process.stdout.write(encodeURIComponent(process.env.PW))\')"',
  'echo "form=$(node -e \'process.stdout.write(new URLSearchParams({v: process.env.PW}).toString())\')"',
  // Hex, lower and upper case, packed and as od prints it (a space before each byte).
  'echo "hex=$(printf %s "$PW" | od -An -tx1 | tr -d \' \\n\')"',
  'echo "HEX=$(printf %s "$PW" | od -An -tx1 | tr -d \' \\n\' | tr a-f A-F)"',
  'printf %s "$PW" | od -An -tx1',
  // One line, two writes: "p@ss w", a pause, then "/rd+42!".
  'printf "%s" "${PW%%/*}"; sleep 0.2; printf "/%s\\n" "${PW#*/}"',
  'echo "user=$DBUSER"',
  'echo "not a secret"',
  // Still running while the test looks at the files: the step's own log file is on disk now.
  'sleep 60',
].join('\n')

function projectingWorkflow(name: string, script = SCRIPT): Record<string, unknown> {
  const wf = workflow(name, { leak: script })
  ;(wf.spec as Record<string, unknown>).use = {
    projection: {
      secrets: [{ id: 'db', contextAlias: 'db' }],
      projections: {
        envVars: [
          { key: 'PW', value: '{{.secrets.db.PASSWORD}}' },
          { key: 'DBUSER', value: '{{.secrets.db.USER}}' },
        ],
      },
    },
  }
  return wf
}

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

describe('secrets at rest', () => {
  it('creates a 0600 master key outside the data dir on first start and stores only ciphertext; the same secret applied twice is unchanged', async () => {
    const keyFile = defaultMasterKeyFile(t.dataDir)
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600)
    expect(path.relative(t.dataDir, keyFile).startsWith('..')).toBe(true)
    expect(fs.existsSync(path.join(t.dataDir, 'master.key'))).toBe(false)
    expect(t.plane.notices).toEqual([expect.stringContaining(`created the master key ${keyFile}`)])

    const first = await t.client.apply('public', [doc(secretDoc({ PASSWORD: VALUE, USER: USER_VALUE }))])
    expect(first.results[0]!.outcome).toBe('created')
    const again = await t.client.apply('public', [doc(secretDoc({ PASSWORD: VALUE, USER: USER_VALUE }))])
    expect(again.results[0]!.outcome).toBe('unchanged')
    const dry = await t.client.apply('public', [doc(secretDoc({ PASSWORD: VALUE, USER: USER_VALUE }))], { dryRun: true })
    expect(dry.results[0]!.outcome).toBe('unchanged')
    const changed = await t.client.apply('public', [doc(secretDoc({ PASSWORD: 'other-value', USER: USER_VALUE }))], { dryRun: true })
    expect(changed.results[0]!.outcome).toBe('updated')

    // get: keys, never values.
    const got = await t.client.get({ workspace: 'public', type: 'secret', name: 'db' })
    expect((got.manifest as { secret: { data: Record<string, string> } }).secret.data).toEqual({ PASSWORD: '***', USER: '***' })
    expect(JSON.stringify(got)).not.toContain(VALUE)

    // --unsanitized for the tenant admin: values in clear, decrypted by the server.
    const clear = await t.client.get({ workspace: 'public', type: 'secret', name: 'db' }, { unsanitized: true })
    expect((clear.manifest as { secret: { data: Record<string, string> } }).secret.data).toEqual({ PASSWORD: VALUE, USER: USER_VALUE })

    expect(filesContaining(t.dataDir, [...forbiddenForms(VALUE), USER_VALUE])).toEqual([])
  })

  it('a step printing the value raw, base64, URL-encoded, hex (both cases) and in two writes leaves no form of it under the data dir; its log says [redacted]', async () => {
    const applied = await t.client.apply('public', [doc(projectingWorkflow('leaky'))])
    expect(applied.results[0]!.outcome).toBe('created')
    const runs = await t.client.runs({ workspace: 'public', type: 'workflow', name: 'leaky' })
    const runId = runs[0]!.id
    const expected = [
      'raw=[redacted]',
      'b64=[redacted]',
      'url=[redacted]',
      'form=v=[redacted]',
      'hex=[redacted]',
      'HEX=[redacted]',
      ' [redacted]',
      '[redacted]',
      'user=[redacted]',
      'not a secret',
    ]
    const texts = async () => (await t.client.logPage(runId, { step: 'leak' })).map((l) => l.text)
    expect(await waitFor('every line of the step', texts, (l) => l.length >= expected.length)).toEqual(expected)

    // While the step runs: its log file in the runtime's logs folder, the SQLite files as they are (WAL included).
    const running = listFiles(t.dataDir)
    expect(running.some((f) => /^runs\/\.logs\/[^/]+\+leak\.\d+\.ndjson$/.test(f))).toBe(true)
    // The SQLite files are looked at only when the store is SQLite (CTL_TEST_STORE=postgres keeps no database here).
    if (onSqlite) {
      expect(running).toContain('ctl.db')
      expect(running.some((f) => f.endsWith('-wal'))).toBe(true)
    }
    expect(filesContaining(t.dataDir, [...forbiddenForms(VALUE), USER_VALUE])).toEqual([])

    await t.client.stop({ workspace: 'public', type: 'workflow', name: 'leaky' }, runId)
    const detail = await waitForRunEnd(t.client, runId)
    expect(detail.run.state).toBe('killed')
    expect(await texts()).toEqual(expected)
    expect(JSON.stringify(detail)).not.toContain(VALUE)
    const files = listFiles(t.dataDir)
    expect(filesContaining(t.dataDir, [...forbiddenForms(VALUE), USER_VALUE])).toEqual([])
    // The ciphertext is what the database holds.
    if (onSqlite) {
      const db = Buffer.concat(files.filter((f) => f.startsWith('ctl.db')).map((f) => fs.readFileSync(path.join(t.dataDir, f))))
      expect(db.includes(Buffer.from('enc:v1:'))).toBe(true)
    }
  })
})

describe('master key', () => {
  it('comes from CTL_MASTER_KEY when set (no key file), and a data dir refuses another key than its own', async () => {
    const dataDir = fs.mkdtempSync(path.join(t.dataDir, '..', 'ctl-server-mk-'))
    const saved = process.env.CTL_MASTER_KEY
    try {
      process.env.CTL_MASTER_KEY = Buffer.alloc(32, 7).toString('base64')
      const plane = await startControlPlane({ dataDir, port: 0 })
      const client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken! })
      await client.apply('public', [doc(secretDoc({ PASSWORD: VALUE }))])
      const clear = await client.get({ workspace: 'public', type: 'secret', name: 'db' }, { unsanitized: true })
      expect((clear.manifest as { secret: { data: Record<string, string> } }).secret.data).toEqual({ PASSWORD: VALUE })
      await plane.close()
      expect(fs.existsSync(path.join(dataDir, 'master.key'))).toBe(false)
      expect(filesContaining(dataDir, forbiddenForms(VALUE))).toEqual([])

      process.env.CTL_MASTER_KEY = Buffer.alloc(32, 8).toString('hex')
      const refused = await startControlPlane({ dataDir, port: 0 }).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(CtlError)
      expect((refused as CtlError).message).toMatch(/not the one this data dir's secrets were sealed with/)

      process.env.CTL_MASTER_KEY = 'too short'
      const bad = await startControlPlane({ dataDir, port: 0 }).catch((e: unknown) => e)
      expect((bad as CtlError).message).toMatch(/CTL_MASTER_KEY must be 32 bytes/)
    } finally {
      if (saved === undefined) delete process.env.CTL_MASTER_KEY
      else process.env.CTL_MASTER_KEY = saved
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('after the control plane stopped', () => {
  it('still finds no form of the value in any file (the close checkpoints the WAL into the database)', async () => {
    await t.plane.close()
    if (onSqlite) expect(listFiles(t.dataDir)).toContain('ctl.db')
    expect(filesContaining(t.dataDir, [...forbiddenForms(VALUE), USER_VALUE])).toEqual([])
  })
})

// A real PostgreSQL for the tests: one server per vitest run, started by the first test that asks
// for a database (initdb into the run's own folder, then pg_ctl on a free loopback port), stopped by
// the global teardown (stopTestPostgres) before it looks for leftover processes. Each caller gets a
// fresh, empty database of its own, so tests never see each other's rows.
//
// PostgreSQL refuses to run as root: under root the server runs as the `postgres` user (Debian's
// package creates it), else as `nobody`. Debian keeps the binaries in /usr/lib/postgresql/N/bin,
// outside PATH; both places are searched.
import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'

const USER = 'ctl'

/** The folder of initdb/pg_ctl, or undefined when PostgreSQL is not installed. */
export function postgresBinDir(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir
  }
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  for (const v of versions) {
    const dir = join(base, v, 'bin')
    if (existsSync(join(dir, 'initdb'))) return dir
  }
  return undefined
}

/** The folder the run's server lives in: below the suite's own TMPDIR (see global-setup.ts). */
function serverDir(): string {
  return join(process.env.TMPDIR ?? '/tmp', '..', 'pg')
}

/** uid/gid to run PostgreSQL as: ourselves unless root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' })
    const g = spawnSync('id', ['-g', name], { encoding: 'utf8' })
    if (r.status === 0 && g.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) }
  }
  throw new Error('PostgreSQL cannot run as root and neither the postgres nor the nobody user exists')
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Starts the run's server once (across worker processes: a mkdir lock); resolves with its admin URL. */
async function serverUrl(): Promise<string> {
  const dir = serverDir()
  const urlFile = join(dir, 'url')
  if (existsSync(urlFile)) return readFileSync(urlFile, 'utf8')
  let owner = false
  try {
    mkdirSync(dir, { mode: 0o711 })
    owner = true
  } catch {
    // Another worker is starting it.
  }
  if (!owner) {
    for (let i = 0; i < 600; i++) {
      if (existsSync(urlFile)) return readFileSync(urlFile, 'utf8')
      if (existsSync(join(dir, 'failed'))) throw new Error(`PostgreSQL failed to start: ${readFileSync(join(dir, 'failed'), 'utf8')}`)
      await sleep(100)
    }
    throw new Error('timed out waiting for another test worker to start PostgreSQL')
  }
  try {
    const bin = postgresBinDir()
    if (!bin) throw new Error('PostgreSQL is not installed (no initdb in PATH or /usr/lib/postgresql/*/bin): apt-get install postgresql')
    const user = serverUser()
    const data = join(dir, 'data')
    const sock = join(dir, 'sock')
    mkdirSync(data, { mode: 0o700 })
    mkdirSync(sock, { mode: 0o755 })
    if (user) {
      chownSync(data, user.uid, user.gid)
      chownSync(sock, user.uid, user.gid)
    }
    const opts = { stdio: 'pipe' as const, ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' } }
    execFileSync(join(bin, 'initdb'), ['-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--no-sync'], opts)
    const port = await freePort()
    const conf = [
      `port = ${port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${sock}'`,
      'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'max_connections = 300',
      'shared_buffers = 64MB', "log_min_messages = 'warning'",
    ].join('\n')
    writeFileSync(join(data, 'postgresql.auto.conf'), `${conf}\n`)
    if (user) chownSync(join(data, 'postgresql.auto.conf'), user.uid, user.gid)
    execFileSync(join(bin, 'pg_ctl'), ['-D', data, '-l', join(data, 'server.log'), '-w', '-t', '60', 'start'], opts)
    const url = `postgresql://${USER}@127.0.0.1:${port}/postgres`
    writeFileSync(join(dir, 'bin'), bin)
    writeFileSync(urlFile, url)
    return url
  } catch (err) {
    const detail = err instanceof Error ? `${err.message}${(err as { stderr?: Buffer }).stderr ? `\n${String((err as { stderr?: Buffer }).stderr)}` : ''}` : String(err)
    writeFileSync(join(dir, 'failed'), detail)
    throw err
  }
}

/** A fresh empty database on the run's server; resolves with its URL (`postgresql://ctl@127.0.0.1:PORT/NAME`). */
export async function freshDatabase(): Promise<string> {
  const admin = await serverUrl()
  const name = `ctl_${randomBytes(6).toString('hex')}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  return admin.replace(/\/postgres$/, `/${name}`)
}

/** Global teardown: stops the run's server if a test started one. */
export function stopTestPostgres(root: string): void {
  const dir = join(root, 'pg')
  if (!existsSync(join(dir, 'url'))) return
  const bin = readFileSync(join(dir, 'bin'), 'utf8')
  const user = serverUser()
  spawnSync(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore', ...(user ?? {}) })
  rmSync(dir, { recursive: true, force: true })
}

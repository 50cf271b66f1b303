// A throwaway PostgreSQL for the benchmarks (not a benchmark itself: run.mjs picks up *.bench.mjs
// only): initdb into a temporary folder, pg_ctl on a free loopback port, as the `postgres` user
// under root (PostgreSQL refuses root). Durability settings are PostgreSQL's defaults except fsync,
// which a benchmark of ctl (not of the disk) turns off; the record says so.
import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'

function binDir() {
  const base = '/usr/lib/postgresql'
  if (existsSync(base)) {
    for (const v of readdirSync(base).filter((x) => /^\d+$/.test(x)).sort((a, b) => b - a)) {
      if (existsSync(path.join(base, v, 'bin', 'initdb'))) return path.join(base, v, 'bin')
    }
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(path.join(dir, 'initdb'))) return dir
  throw new Error('PostgreSQL is not installed (apt-get install postgresql)')
}

function runAs() {
  if (process.getuid?.() !== 0) return {}
  for (const name of ['postgres', 'nobody']) {
    const u = spawnSync('id', ['-u', name], { encoding: 'utf8' })
    const g = spawnSync('id', ['-g', name], { encoding: 'utf8' })
    if (u.status === 0 && g.status === 0) return { uid: Number(u.stdout), gid: Number(g.stdout) }
  }
  throw new Error('no postgres or nobody user to run PostgreSQL as')
}

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer()
  s.once('error', reject)
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address()
    s.close(() => resolve(port))
  })
})

/** Starts a server; resolves with { url (of database `ctl`), version, stop() }. */
export async function startPostgres() {
  const bin = binDir()
  const user = runAs()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctl-bench-pg-'))
  const data = path.join(dir, 'data')
  mkdirSync(data, { mode: 0o700 })
  if (user.uid !== undefined) {
    chownSync(dir, user.uid, user.gid)
    chownSync(data, user.uid, user.gid)
  }
  const opts = { stdio: 'pipe', ...user, env: { ...process.env, LC_ALL: 'C' } }
  execFileSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'ctl', '--auth=trust', '-E', 'UTF8', '--no-sync'], opts)
  const port = await freePort()
  const conf = [`port = ${port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`, 'fsync = off', 'max_connections = 200']
  writeFileSync(path.join(data, 'postgresql.auto.conf'), `${conf.join('\n')}\n`)
  if (user.uid !== undefined) chownSync(path.join(data, 'postgresql.auto.conf'), user.uid, user.gid)
  execFileSync(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(data, 'server.log'), '-w', 'start'], opts)
  const { default: pg } = await import('pg')
  const admin = new pg.Client({ connectionString: `postgresql://ctl@127.0.0.1:${port}/postgres` })
  await admin.connect()
  await admin.query('CREATE DATABASE ctl')
  await admin.end()
  const version = execFileSync(path.join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).trim()
  return {
    url: `postgresql://ctl@127.0.0.1:${port}/ctl`,
    version,
    settings: 'fsync=off (a benchmark of ctl, not of the disk); otherwise defaults',
    stop() {
      spawnSync(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], { stdio: 'ignore', ...user })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

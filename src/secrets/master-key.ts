// Where the master key lives and how it is loaded. Not in the data folder: a copy of the data
// folder (a backup, a disk image, a step that could read it) must not be enough to decrypt its
// secrets. The default is $CTL_HOME/keys/, which the local sandbox never shows to a step.
// An older data folder holding its own master.key has it moved out on start, never lost.
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { CtlError } from '../errors.js'
import { ctlHome, localServerDir } from '../home.js'
import { MASTER_KEY_ENV, MASTER_KEY_FILE, parseMasterKey } from './crypto.js'

/** The variable (and `--master-key-file`, `masterKeyFile` in the server config) naming the key file. */
export const MASTER_KEY_FILE_ENV = 'CTL_MASTER_KEY_FILE'
const KEY_BYTES = 32

/**
 * The default key file of a data folder: `$CTL_HOME/keys/master.key` for the embedded control plane
 * ($CTL_HOME/server); for any other data folder a file of its own in that folder, named after the
 * data folder's absolute path (so that two data folders never share or overwrite a key).
 */
export function defaultMasterKeyFile(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const keys = path.join(path.resolve(ctlHome(env)), 'keys')
  const dir = path.resolve(dataDir)
  if (dir === path.resolve(localServerDir(env))) return path.join(keys, MASTER_KEY_FILE)
  const base = path.basename(dir).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root'
  return path.join(keys, `${base}-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}.key`)
}

export interface MasterKeyOptions {
  dataDir: string
  /** The key file as configured (flag, CTL_MASTER_KEY_FILE or the server config); default: defaultMasterKeyFile. */
  file?: string
  env?: NodeJS.ProcessEnv
  /**
   * False when the data folder's secrets were sealed already (its key check is stored): a missing key
   * file is then an error, never a new key that could not open them. Default true.
   */
  mayCreate?: boolean
}

export interface LoadedMasterKey {
  key: Buffer
  /** The environment variable, an existing key file, a key file created now, or one moved out of the data folder now. */
  source: 'env' | 'file' | 'created' | 'moved'
  /** The key file (absent when the key came from the environment). */
  file?: string
  /** One line each, for the operator: a key created or moved, a key file left inside the data folder. */
  notices: string[]
}

/** The key file loadMasterKey reads (or creates) with these options, absolute; undefined when the key comes from CTL_MASTER_KEY. */
export function masterKeyFileOf(opts: MasterKeyOptions): string | undefined {
  const env = opts.env ?? process.env
  const fromEnv = env[MASTER_KEY_ENV]
  if (fromEnv !== undefined && fromEnv !== '') return undefined
  return path.resolve(opts.file ?? defaultMasterKeyFile(path.resolve(opts.dataDir), env))
}

/**
 * The master key: CTL_MASTER_KEY (base64 or hex of 32 bytes) when set, else the key file (see
 * MasterKeyOptions.file), created with a random key (0600, in a 0700 folder) when missing and allowed.
 * Creating and moving are atomic (a temporary file linked into place), so two servers starting on one
 * data folder end up with the same key.
 */
export function loadMasterKey(opts: MasterKeyOptions): LoadedMasterKey {
  const env = opts.env ?? process.env
  const dataDir = path.resolve(opts.dataDir)
  const legacy = path.join(dataDir, MASTER_KEY_FILE)
  const notices: string[] = []
  const fromEnv = env[MASTER_KEY_ENV]
  if (fromEnv !== undefined && fromEnv !== '') {
    const key = parseMasterKey(fromEnv)
    if (!key) throw new CtlError('E_USAGE', `${MASTER_KEY_ENV} must be 32 bytes written as base64 or hex (e.g. the output of: openssl rand -base64 32)`)
    // Not moved: it may be another key than the variable's; the operator decides.
    if (fs.existsSync(legacy)) notices.push(`warning: ${legacy} is a master key file inside the data folder (${MASTER_KEY_ENV} is used instead): move it elsewhere or delete it`)
    return { key, source: 'env', notices }
  }
  const file = masterKeyFileOf({ ...opts, env })!
  if (isInside(dataDir, file)) {
    notices.push(`warning: the master key file ${file} lies inside the data folder ${dataDir}: a copy of the data folder can decrypt its secrets; keep the key elsewhere (--master-key-file)`)
  }
  let source: LoadedMasterKey['source'] = 'file'
  if (file !== legacy && fs.existsSync(legacy)) {
    moveLegacyKey(legacy, file, notices)
    source = 'moved'
  }
  const existing = readKeyFile(file)
  if (existing) return { key: existing, source, file, notices }
  if (opts.mayCreate === false) {
    throw new CtlError('E_USAGE', `no master key at ${file}, and the secrets in ${dataDir} were sealed with one: restore that file from a backup, `
      + `or name the key with --master-key-file (${MASTER_KEY_FILE_ENV}) or ${MASTER_KEY_ENV}`)
  }
  const key = randomBytes(KEY_BYTES)
  const theirs = linkNewKeyFile(file, `${key.toString('base64')}\n`)
  if (theirs) return { key: theirs, source: 'file', file, notices }
  notices.push(`created the master key ${file} (0600): back it up apart from the data folder; without it the secrets in ${dataDir} cannot be read`)
  return { key, source: 'created', file, notices }
}

/** Moves `<dataDir>/master.key` to `file`; when `file` holds the same key already, drops the copy. Never loses a key. */
function moveLegacyKey(legacy: string, file: string, notices: string[]): void {
  const old = readKeyFile(legacy)
  if (!old) return // raced with another server that moved it
  const current = readKeyFile(file)
  if (current && !current.equals(old)) {
    throw new CtlError('E_USAGE', `two different master keys: ${legacy} (inside the data folder) and ${file}; `
      + `keep the one the data folder's secrets were sealed with at ${file} and remove the other`)
  }
  if (!current) {
    const theirs = linkNewKeyFile(file, fs.readFileSync(legacy, 'utf8'))
    if (theirs && !theirs.equals(old)) {
      throw new CtlError('E_USAGE', `another master key appeared at ${file} while ${legacy} was being moved there; keep the right one and remove the other`)
    }
  }
  fs.rmSync(legacy, { force: true })
  notices.push(`moved the master key out of the data folder: ${legacy} → ${file} (back it up apart from the data folder)`)
}

/** Writes `text` to `file` (0600, folder 0700) unless it exists; returns the key already there if it did. */
function linkNewKeyFile(file: string, text: string): Buffer | undefined {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const fd = fs.openSync(tmp, 'wx', 0o600)
  try {
    fs.writeSync(fd, text)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.linkSync(tmp, file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    // Another server created it first: use theirs.
    const theirs = readKeyFile(file)
    if (!theirs) throw new CtlError('E_USAGE', `${file} is not a valid master key (32 bytes as base64 or hex)`)
    return theirs
  } finally {
    fs.rmSync(tmp, { force: true })
  }
  return undefined
}

function readKeyFile(file: string): Buffer | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CtlError('E_USAGE', `cannot read the master key file ${file}: ${(e as Error).message}`)
  }
  const key = parseMasterKey(text)
  if (!key) throw new CtlError('E_USAGE', `${file} is not a valid master key (32 bytes as base64 or hex); restore it from a backup, or set ${MASTER_KEY_ENV}`)
  return key
}

function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
}

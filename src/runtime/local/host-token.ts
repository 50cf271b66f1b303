// The secret both ends of the step host's socket prove they know: <stateDir>/host.token, read by the
// host once at start (supervisor.mjs). Each end sends an HMAC over the other's nonce, never the token:
// a step that reaches the socket cannot start or kill anything, and a process that took the socket's
// place cannot receive launch specs (which hold secret values).

import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { CtlError } from '../../errors.js'

/** The file that holds the host's token; the state folder is never visible inside a sandbox. */
export const TOKEN_FILE = 'host.token'
const TOKEN_BYTES = 32

/**
 * The token of the host of `stateDir`: read, or made (0600) when missing. Made complete in a
 * file of its own and then linked into place, so nobody ever reads half a token and only one
 * of two concurrent creators wins. It persists so that a control plane started later
 * authenticates to a host that outlived it.
 */
export function hostToken(stateDir: string): Buffer {
  const file = path.join(stateDir, TOKEN_FILE)
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}`
    fs.writeFileSync(tmp, crypto.randomBytes(TOKEN_BYTES), { mode: 0o600, flag: 'wx' })
    try {
      fs.linkSync(tmp, file)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    } finally {
      fs.rmSync(tmp, { force: true })
    }
  }
  const st = fs.lstatSync(file)
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid
  if (!st.isFile() || st.uid !== uid) throw new CtlError('E_INTERNAL', `${file} is not a regular file of this user: refusing to use it as the step host's token`)
  // Loose permissions (an older state folder, a careless copy): tightened, not trusted blindly.
  if ((st.mode & 0o077) !== 0) fs.chmodSync(file, 0o600)
  const token = fs.readFileSync(file)
  if (token.length < TOKEN_BYTES) throw new CtlError('E_INTERNAL', `${file} holds ${token.length} bytes, not a step host token of ${TOKEN_BYTES}`)
  return token
}

/** HMAC-SHA256 of `label:nonce` under the token, as both ends compute it. */
export function hostProof(token: Buffer, label: 'client' | 'host', nonce: string): Buffer {
  return crypto.createHmac('sha256', token).update(`${label}:${nonce}`).digest()
}

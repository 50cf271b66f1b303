// Checking an API key: by its token (the Authorization header) or by its id (a console session names it).
// Keys are looked up on every request (no cache), so a revoked or expired key stops working at once.
import { createHash } from 'node:crypto'
import { CtlError } from '../errors.js'
import type { ApiKeyRecord, IdentityStore, UserRecord } from '../store/types.js'
import type { Principal } from '../api/types.js'
import { toPrincipal } from '../access/principals.js'

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** How often last_used_at is written at most: a write per request would cost every call a transaction. */
const TOUCH_EVERY_MS = 60_000

/** Who called, and with which key (its expiry bounds the keys it may create). */
export interface Authenticated {
  principal: Principal
  key: Pick<ApiKeyRecord, 'id' | 'expiresAt'>
}

/** The principal a token belongs to, or E_UNAUTHENTICATED saying why not (unknown, revoked, expired, user deleted). */
export async function authenticate(store: IdentityStore, token: string, now = new Date()): Promise<Authenticated> {
  const found = await store.findApiKeyByHash(sha256Hex(token))
  if (!found) throw new CtlError('E_UNAUTHENTICATED', 'unknown API key')
  return checkKey(store, found.key, found.user, now)
}

/** The principal of a key found by hash or id, or E_UNAUTHENTICATED saying why not; notes its use (at most once a minute). */
export async function checkKey(store: IdentityStore, key: ApiKeyRecord, user: UserRecord, now = new Date()): Promise<Authenticated> {
  if (key.revokedAt !== undefined) throw new CtlError('E_UNAUTHENTICATED', `API key ${key.name} (${key.id}) was revoked at ${key.revokedAt}`)
  if (key.expiresAt !== undefined && key.expiresAt <= now.toISOString()) {
    throw new CtlError('E_UNAUTHENTICATED', `API key ${key.name} (${key.id}) expired at ${key.expiresAt}`)
  }
  if (user.deletedAt !== undefined) throw new CtlError('E_UNAUTHENTICATED', `user ${user.id} of this API key was deleted`)
  if (key.lastUsedAt === undefined || now.getTime() - Date.parse(key.lastUsedAt) >= TOUCH_EVERY_MS) {
    await store.touchApiKey(key.id, now.toISOString())
  }
  const principal = toPrincipal(user, await store.listRoleBindings({ userId: user.id }))
  return { principal, key: { id: key.id, ...(key.expiresAt !== undefined ? { expiresAt: key.expiresAt } : {}) } }
}


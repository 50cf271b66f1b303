// `ctl user apikey create|get|delete`: the token is printed once, at creation; the
// control plane keeps only its hash, so `get` can never show it again.
import type { ApiKeyInfo } from '../../api/types.js'
import { MAX_CALENDAR_DURATION_MS, parseDuration } from '../../duration.js'
import { CtlError } from '../../errors.js'
import type { Io } from '../io.js'
import { printReport, renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import type { Session } from './session.js'

export interface CreateApiKeyOptions {
  /** Absent: the caller's own key. */
  user?: string
  name?: string
  /** `24h`, `30d`, `1w`, `1d12h`; absent: no expiry. */
  duration?: string
  output: OutputFormat
}

export function validateCreateApiKey(o: CreateApiKeyOptions): void {
  // The control plane reads `expiresIn` with the same rule and bound.
  if (o.duration !== undefined) parseDuration(o.duration, { what: 'duration', maxMs: MAX_CALENDAR_DURATION_MS })
  if (o.name !== undefined && !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(o.name)) {
    throw new CtlError('E_USAGE', `key name "${o.name}" is not valid: letters, digits, - _ .`)
  }
}

async function userOrSelf(session: Session, user: string | undefined): Promise<string> {
  return user ?? (await session.client.whoami()).id
}

export async function runCreateApiKey(session: Session, o: CreateApiKeyOptions, io: Io): Promise<void> {
  const user = await userOrSelf(session, o.user)
  const key = await session.client.createApiKey(user, { name: o.name, expiresIn: o.duration })
  if (o.output === 'json') return io.out(toJson(key))
  if (o.output === 'yaml') return io.out(toYaml(key))
  io.out(renderTable(['USER', 'NAME', 'ID', 'EXPIRES'], [[user, key.name, key.id, key.expiresAt ?? 'never']]))
  io.out(`TOKEN: ${key.token}`)
  io.err('the token is shown only this once: store it now (for example with: ctl login --apikey -)')
}

export const APIKEY_HEADERS = ['NAME', 'ID', 'USER', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED']

export function keyStatus(k: ApiKeyInfo, now: number = Date.now()): 'active' | 'expired' | 'revoked' {
  if (k.revokedAt) return 'revoked'
  if (k.expiresAt && Date.parse(k.expiresAt) <= now) return 'expired'
  return 'active'
}

export async function runGetApiKeys(session: Session, o: { user?: string; output: OutputFormat }, io: Io): Promise<void> {
  const user = await userOrSelf(session, o.user)
  const keys = await session.client.apiKeys(user)
  if (o.output === 'json') return io.out(toJson(keys))
  if (o.output === 'yaml') return io.out(toYaml(keys))
  if (keys.length === 0) return io.out(`user "${user}" has no API keys`)
  io.out(renderTable(APIKEY_HEADERS, keys.map((k) => [k.name, k.id, k.userId, keyStatus(k), k.createdAt, k.expiresAt ?? 'never', k.lastUsedAt ?? ''])))
}

export interface DeleteApiKeyOptions {
  user?: string
  /** The key's name or id. */
  key: string
}

export async function runDeleteApiKey(session: Session, o: DeleteApiKeyOptions, io: Io, output: OutputFormat = 'table'): Promise<void> {
  const user = await userOrSelf(session, o.user)
  const keys = await session.client.apiKeys(user)
  const byId = keys.find((k) => k.id === o.key)
  const byName = keys.filter((k) => k.name === o.key && !k.revokedAt)
  if (!byId && byName.length > 1) {
    throw new CtlError('E_USAGE', `user "${user}" has ${byName.length} keys named "${o.key}": delete by id (${byName.map((k) => k.id).join(', ')})`)
  }
  const key = byId ?? byName[0]
  if (!key) throw new CtlError('E_NOT_FOUND', `user "${user}" has no API key named or numbered "${o.key}"`)
  await session.client.deleteApiKey(user, key.id)
  printReport(io, output, { deleted: { user, id: key.id, name: key.name } }, () =>
    io.out(`API key "${key.name}" (${key.id}) of user "${user}" deleted; it no longer works`))
}

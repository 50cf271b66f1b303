// Run params declared `secret: true` are sealed at rest like secret values (src/secrets/crypto.ts): the runs
// table holds their ciphertext, bound to the workflow and the param's name, and only the engine opens them,
// to render a step and to redact what the step prints. The API masks them (src/http/run-params.ts).

import type { ParamSpec } from '../manifest/model.js'
import { isSealed, type SecretBox } from './crypto.js'

const contextOf = (resourceId: string, name: string): string => `run-param:${resourceId}:${name}`

const secretNames = (decls: readonly ParamSpec[] | undefined): Set<string> => new Set((decls ?? []).filter((p) => p.secret).map((p) => p.name))

/** The params to store: each secret one sealed (its JSON), the others as they are. Without a box, as they are. */
export function sealRunParams(decls: readonly ParamSpec[] | undefined, values: Record<string, unknown>, box: SecretBox | undefined, resourceId: string): Record<string, unknown> {
  const secret = secretNames(decls)
  if (!box || secret.size === 0) return values
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(values)) out[name] = secret.has(name) && value !== undefined ? box.seal(JSON.stringify(value), contextOf(resourceId, name)) : value
  return out
}

/** Stored params with every sealed secret one opened (a retry starts from them). Throws E_SECRET for another master key. */
export function openRunParams(decls: readonly ParamSpec[] | undefined, values: Record<string, unknown> | undefined, box: SecretBox | undefined, resourceId: string): Record<string, unknown> {
  const secret = secretNames(decls)
  if (!values || !box || secret.size === 0) return values ?? {}
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(values)) {
    out[name] = secret.has(name) && isSealed(value) ? (JSON.parse(box.open(value, contextOf(resourceId, name))) as unknown) : value
  }
  return out
}

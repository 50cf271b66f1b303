// `secret.type: cloud-kernel-image-pull` holds registry credentials. Such a secret never reaches a
// step as values: the step's Pod names it in `imagePullSecrets` and the Kubernetes runtime creates it
// as a `kubernetes.io/dockerconfigjson` Secret. Its data has one of two shapes:
//   data: {.dockerconfigjson: '{"auths": {...}}'}            (what `kubectl create secret docker-registry` stores)
//   data: {registry, username, password[, email]}           (the Docker config JSON is built from these)
// Lint checks the shape here; the launch builds the JSON here; nothing else reads the data.
// Messages never quote a value: they are printed, and the values are credentials.

import { CtlError } from '../errors.js'
import type { JsonPath, SecretKind, SecretSpec } from './model.js'
import { suggestionSuffix } from './suggest.js'

export const PULL_SECRET_TYPE: SecretKind = 'cloud-kernel-image-pull'
export const DOCKER_CONFIG_KEY = '.dockerconfigjson'

const FIELDS = ['registry', 'username', 'password', 'email'] as const
const REQUIRED = ['registry', 'username', 'password'] as const
const SHAPES = `either ${DOCKER_CONFIG_KEY} (a Docker config JSON with an "auths" object) or registry, username and password (email optional)`

export interface PullSecretProblem {
  /** Relative to the secret's body (`['data', 'username']`). */
  path: JsonPath
  message: string
}

type Obj = Record<string, unknown>

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Problems of a `.dockerconfigjson` text, as messages about that key; [] when usable. */
function dockerConfigProblems(text: string): string[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // The parser's message quotes the text around the error: it may hold the password.
    return [`${DOCKER_CONFIG_KEY} is not valid JSON`]
  }
  if (!isObj(parsed) || !isObj(parsed['auths'])) {
    return [`${DOCKER_CONFIG_KEY} must be a JSON object with an "auths" object (registry → credentials)`]
  }
  const auths = parsed['auths']
  if (Object.keys(auths).length === 0) return [`${DOCKER_CONFIG_KEY}: "auths" names no registry`]
  const problems: string[] = []
  for (const [registry, entry] of Object.entries(auths)) {
    if (!isObj(entry)) problems.push(`${DOCKER_CONFIG_KEY}: auths["${registry}"] must be an object such as {"auth": "<base64 of user:password>"}`)
  }
  return problems
}

/** What is wrong with the data of a cloud-kernel-image-pull secret; [] when it has one of the two shapes. */
export function pullSecretProblems(secret: Pick<SecretSpec, 'data' | 'files'>): PullSecretProblem[] {
  const problems: PullSecretProblem[] = []
  const fileNames = Object.keys(secret.files)
  if (fileNames.length > 0) {
    problems.push({ path: ['files'], message: `a cloud-kernel-image-pull secret takes its credentials under data, not files: give ${SHAPES}` })
  }
  const keys = Object.keys(secret.data)
  if (keys.length === 0) {
    problems.push({ path: ['data'], message: `a cloud-kernel-image-pull secret needs data: ${SHAPES}` })
    return problems
  }
  if (keys.includes(DOCKER_CONFIG_KEY)) {
    for (const key of keys) {
      if (key === DOCKER_CONFIG_KEY) continue
      problems.push({ path: ['data', key], message: `"${key}" cannot be combined with ${DOCKER_CONFIG_KEY}: give ${SHAPES}` })
    }
    for (const message of dockerConfigProblems(secret.data[DOCKER_CONFIG_KEY]!)) problems.push({ path: ['data', DOCKER_CONFIG_KEY], message })
    return problems
  }
  const known: readonly string[] = FIELDS
  for (const key of keys) {
    if (!known.includes(key)) {
      const hint = suggestionSuffix(key, [...FIELDS, DOCKER_CONFIG_KEY])
      const expected = hint ? `${hint} Expected ${SHAPES}` : `; expected ${SHAPES}`
      problems.push({ path: ['data', key], message: `unknown field "${key}" of a cloud-kernel-image-pull secret${expected}` })
    } else if (secret.data[key]!.trim() === '' && key !== 'email') {
      problems.push({ path: ['data', key], message: `"${key}" of a cloud-kernel-image-pull secret must not be empty` })
    }
  }
  const missing = REQUIRED.filter((k) => !keys.includes(k))
  if (missing.length > 0) {
    const list = missing.map((k) => `"${k}"`).join(', ')
    problems.push({ path: ['data'], message: `a cloud-kernel-image-pull secret without ${DOCKER_CONFIG_KEY} needs ${list}` })
  }
  return problems
}

/**
 * The Docker config JSON of a pull secret's data (decrypted values): `.dockerconfigjson` as given, or
 * `{"auths": {registry: {username, password, [email,] auth: base64(username:password)}}}`. `what`
 * names the secret in the error a bad shape raises (data stored before it was checked at apply).
 */
export function dockerConfigJson(data: Record<string, string>, what: string): string {
  const problems = pullSecretProblems({ data, files: {} })
  if (problems.length > 0) {
    throw new CtlError('E_SECRET', `${what}: ${problems.map((p) => p.message).join('; ')}`)
  }
  const given = data[DOCKER_CONFIG_KEY]
  if (given !== undefined) return given
  const username = data['username']!
  const password = data['password']!
  const entry: Record<string, string> = { username, password }
  if (data['email']) entry['email'] = data['email']
  entry['auth'] = Buffer.from(`${username}:${password}`, 'utf8').toString('base64')
  return JSON.stringify({ auths: { [data['registry']!]: entry } })
}

/**
 * The secret parts of a Docker config JSON, for redaction: the whole text and, per registry, its
 * password, auth and tokens. Usernames and emails are not secret (and redacting short common
 * words would blank unrelated log text).
 */
export function dockerConfigSecretValues(json: string): string[] {
  const out = new Set<string>([json])
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return [...out]
  }
  const auths = isObj(parsed) && isObj(parsed['auths']) ? parsed['auths'] : {}
  for (const entry of Object.values(auths)) {
    if (!isObj(entry)) continue
    for (const field of ['password', 'auth', 'identitytoken', 'registrytoken']) {
      const value = entry[field]
      if (typeof value === 'string' && value !== '') out.add(value)
    }
  }
  return [...out]
}

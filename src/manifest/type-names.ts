// The names a user may type for a resource type, as kubectl accepts them: the type
// itself, its plural and a short name. The one table every command that takes a
// type reads (`-t wf`, `get workflows`, `describe vol x`, `auth can-i run wf`).
import { CtlError } from '../errors.js'
import { RESOURCE_TYPES, type ResourceType } from './model.js'
import { didYouMean } from './suggest.js'

export interface TypeNames {
  plural: string
  /** kubectl-style short names; only where one is customary. */
  short: readonly string[]
}

export const TYPE_NAMES: Readonly<Record<ResourceType, TypeNames>> = {
  workflow: { plural: 'workflows', short: ['wf'] },
  secret: { plural: 'secrets', short: [] },
  'instance-secret': { plural: 'instance-secrets', short: ['isecret'] },
  volume: { plural: 'volumes', short: ['vol'] },
  compute: { plural: 'computes', short: [] },
  stack: { plural: 'stacks', short: [] },
}

const BY_NAME: ReadonlyMap<string, ResourceType> = new Map(
  RESOURCE_TYPES.flatMap((type) => [type, TYPE_NAMES[type].plural, ...TYPE_NAMES[type].short].map((name) => [name, type] as const)),
)

const WORKSPACE_NAMES: ReadonlySet<string> = new Set(['ws', 'workspace', 'workspaces', 'ns', 'namespace', 'namespaces'])

/** Every accepted spelling, for suggestions and help. */
export function typeNames(): string[] {
  return [...BY_NAME.keys()]
}

/** The resource type a user's spelling names (case-insensitive); E_USAGE with a suggestion otherwise. */
export function resourceType(input: string): ResourceType {
  const type = BY_NAME.get(input.toLowerCase())
  if (type !== undefined) return type
  // kubectl's namespaces are ctl's workspaces, which hold resources but are none.
  if (WORKSPACE_NAMES.has(input.toLowerCase())) throw new CtlError('E_USAGE', 'workspaces are not a resource type: list them with "ctl workspace get"')
  const hit = didYouMean(input, typeNames())
  const known = RESOURCE_TYPES.map(shownNames).join(', ')
  if (hit === undefined) throw new CtlError('E_USAGE', `unknown type "${input}"; known: ${known}`)
  throw new CtlError('E_USAGE', `unknown type "${input}"; did you mean "${BY_NAME.get(hit)}"? Known: ${known}`)
}

/** One line per type with its other names, for help texts: `workflow (wf, workflows)` (oclif trims indentation). */
export function typeNamesHelp(): string {
  return RESOURCE_TYPES.map(shownNames).join('\n')
}

/** `workflow (wf, workflows)`. */
function shownNames(type: ResourceType): string {
  return `${type} (${[...TYPE_NAMES[type].short, TYPE_NAMES[type].plural].join(', ')})`
}

// kubectl's way of naming a resource on the command line (`get workflow x`,
// `get wf/x`, `logs workflow/x`) next to dataos-ctl's flags (`-t workflow -n x`):
// both end up as one type and name, the type spelled any way TYPE_NAMES allows.
import { CtlError } from '../errors.js'
import type { ResourceType } from '../manifest/model.js'
import { resourceType } from '../manifest/type-names.js'

export interface TargetArgs {
  /** `TYPE` or `TYPE/NAME`. */
  target?: string
  name?: string
}

export interface Target {
  type?: string
  name?: string
}

export interface ResolvedTarget {
  type?: ResourceType
  name?: string
}

/** Positional `TYPE [NAME]` or `TYPE/NAME` merged with `-t`/`-n`; saying one thing twice is a usage error. */
export function kubectlTarget(args: TargetArgs, flags: Target): ResolvedTarget {
  let type = args.target
  let name = args.name
  const slash = type?.indexOf('/') ?? -1
  if (type !== undefined && slash >= 0) {
    if (name !== undefined) throw new CtlError('E_USAGE', `give the name once: ${type} or ${type.slice(0, slash)} ${name}`)
    name = type.slice(slash + 1)
    type = type.slice(0, slash)
    if (type === '' || name === '') throw new CtlError('E_USAGE', `"${args.target}" is not TYPE/NAME`)
  }
  if (type !== undefined && flags.type !== undefined) throw new CtlError('E_USAGE', `give the type once: ${type} or -t ${flags.type}`)
  if (name !== undefined && flags.name !== undefined) throw new CtlError('E_USAGE', `give the name once: ${name} or -n ${flags.name}`)
  type ??= flags.type
  name ??= flags.name
  return { type: type === undefined ? undefined : resourceType(type), name }
}

/** The target with its type and name, or E_USAGE saying `usage` when the name is missing (a type always comes with a required TARGET). */
export function requireName(target: ResolvedTarget, usage: string): { type: ResourceType; name: string } {
  if (target.name === undefined) throw new CtlError('E_USAGE', usage)
  return { type: target.type ?? 'workflow', name: target.name }
}

/** `kubectl logs` takes `TYPE/NAME` or a bare NAME; only workflows have logs, so a bare word is a workflow. */
export function logsTarget(args: TargetArgs, flags: Target): ResolvedTarget {
  if (args.target !== undefined && !args.target.includes('/') && args.name === undefined && flags.name === undefined) {
    return kubectlTarget({}, { type: flags.type, name: args.target })
  }
  return kubectlTarget(args, flags)
}

// `spec.dependencies` (v2alpha): resources that must exist when the workflow is applied. Accepted forms:
//   NAME                          a workflow of the same workspace
//   TYPE:NAME                     secret:db, volume:data, workflow:ingest, compute:gpu, stack:spark, instance-secret:ca
//   TYPE:VERSION:NAME[:WORKSPACE] the resource id DataOS prints (workflow:v1:ingest:public)
// The form is checked at lint; existence at apply (src/controlplane/apply.ts), where resources of the same apply count.
import type { ManifestIssue } from '../errors.js'
import { issueAt } from './issues.js'
import { INSTANCE_LEVEL_TYPES, MANIFEST_VERSIONS, RESOURCE_TYPES, type LoadedDocument, type ResourceType, type WorkflowResource } from './model.js'
import { nameProblem } from './semantic.js'

export interface DependencyRef {
  type: ResourceType
  name: string
  /** Given in the long form; absent: the workflow's own (instance-level types have none). */
  workspace?: string
}

/** The resource a dependency names, or why it cannot be read. */
export function parseDependency(text: string): DependencyRef | string {
  const parts = text.split(':')
  let type: string
  let name: string
  let workspace: string | undefined
  if (parts.length === 1) [type, name] = ['workflow', parts[0]!]
  else if (parts.length === 2) [type, name] = [parts[0]!, parts[1]!]
  else if (parts.length === 3 || parts.length === 4) {
    if (!(MANIFEST_VERSIONS as readonly string[]).includes(parts[1]!)) return `"${parts[1]}" is no manifest version (${MANIFEST_VERSIONS.join(', ')}); the forms are NAME, TYPE:NAME and TYPE:VERSION:NAME[:WORKSPACE]`
    ;[type, name, workspace] = [parts[0]!, parts[2]!, parts[3]]
  } else return 'the forms are NAME, TYPE:NAME and TYPE:VERSION:NAME[:WORKSPACE]'
  if (!(RESOURCE_TYPES as readonly string[]).includes(type)) return `unknown type "${type}" (types: ${RESOURCE_TYPES.join(', ')})`
  const problem = nameProblem(name)
  if (problem) return `name "${name}" ${problem}`
  if (workspace !== undefined && (INSTANCE_LEVEL_TYPES as readonly string[]).includes(type)) return `${type} belongs to no workspace; drop ":${workspace}"`
  if (workspace !== undefined && nameProblem(workspace)) return `workspace "${workspace}" ${nameProblem(workspace)}`
  return workspace !== undefined ? { type: type as ResourceType, name, workspace } : { type: type as ResourceType, name }
}

export function checkDependencyForms(wf: WorkflowResource, doc: LoadedDocument, bodyKey: string, issues: ManifestIssue[]): void {
  ;(wf.workflow.dependencies ?? []).forEach((text, i) => {
    const parsed = parseDependency(text)
    if (typeof parsed === 'string') issues.push(issueAt(doc, 'E_UNKNOWN_DEPENDENCY', [bodyKey, 'dependencies', i], `dependency "${text}": ${parsed}`))
  })
}

// Which workflows use a resource that is about to be deleted: `delete` refuses while
// any do (unless forced), like dataos-ctl.
import type { ResourceRecord, ResourceStore } from '../store/types.js'
import type { StepModel, WorkflowResource } from '../manifest/model.js'

const REFERENCED_TYPES = new Set(['volume', 'secret', 'instance-secret', 'stack', 'compute'])

function stepUses(step: StepModel, wfWorkspace: string | null, target: ResourceRecord): boolean {
  const spec = step.spec
  switch (target.type) {
    case 'volume':
      return wfWorkspace === target.workspace && spec.volumes.some((v) => v.id === target.name)
    case 'compute':
      return spec.compute === target.name
    case 'stack': {
      const def = (target.manifest as { stack?: { name?: unknown; version?: unknown } } | undefined)?.stack
      const name = typeof def?.name === 'string' ? def.name : target.name
      const version = typeof def?.version === 'string' ? def.version : undefined
      return spec.stack.name === name && (spec.stack.version === undefined || spec.stack.version === version)
    }
    case 'secret':
      return spec.projection.secrets.some(
        (s) => !s.instance && s.id === target.name && (s.workspace ?? wfWorkspace) === target.workspace,
      )
    case 'instance-secret':
      return spec.projection.secrets.some((s) => s.instance === true && s.id === target.name)
    default:
      return false
  }
}

/** `workflow NAME in workspace WS` for every live workflow with a step using `target`. */
export async function findDependents(store: ResourceStore, target: ResourceRecord): Promise<string[]> {
  if (!REFERENCED_TYPES.has(target.type)) return []
  const workflows =
    target.type === 'volume'
      ? await store.listResources({ workspace: target.workspace, type: 'workflow' })
      : await store.listResources({ allWorkspaces: true, type: 'workflow' })
  const out: string[] = []
  for (const wf of workflows) {
    const manifest = wf.manifest as WorkflowResource | undefined
    // The finally steps use resources too.
    const dag = Array.isArray(manifest?.workflow?.dag) ? [...manifest.workflow.dag, ...(manifest.workflow.finally ?? [])] : undefined
    if (!dag) continue
    if (dag.some((step) => stepUses(step, wf.workspace, target))) out.push(`workflow ${wf.name} in workspace ${wf.workspace}`)
  }
  return out
}

// Builds normalized workflows directly (the manifest loader is separate), and
// validates Kubernetes objects against the real OpenAPI schema.
import { ConfigMap, Pod, Secret } from 'kubernetes-models/v1'
import { expect } from 'vitest'
import type { ProjectionSpec, StepModel, StepSpec, WorkflowResource } from '../../src/manifest/model.js'
import type { RunContext } from '../../src/template/run-context.js'

export function projection(p: Partial<ProjectionSpec> = {}): ProjectionSpec {
  return { secrets: [], envVars: [], files: [], arguments: [], allKeysAsEnv: [], ...p }
}

export function step(name: string, spec: Partial<StepSpec> & Pick<StepSpec, 'stack' | 'stackSpec'>, extra: Partial<StepModel> = {}): StepModel {
  return {
    name,
    depends: [],
    path: ['spec', 'dag', 0],
    ...extra,
    spec: { compute: 'runnable-default', envs: {}, volumes: [], projection: projection(), ...spec },
  }
}

export function workflow(name: string, steps: StepModel[], meta: Partial<WorkflowResource['meta']> = {}): WorkflowResource {
  return {
    meta: { name, version: 'v2alpha', type: 'workflow', tags: ['demo', 'nightly'], layer: 'user', description: 'a demo', ...meta },
    workflow: { dag: steps.map((s, i) => ({ ...s, path: ['spec', 'dag', i] })) },
  }
}

export const run: RunContext = {
  runId: '3f2a9c1e-7b44-4d7e-9a51-0c8b2e6d1f00',
  revision: 4,
  runStartTime: '2025-01-02T03:04:05Z',
  owner: 'alice',
  workspace: 'public',
  attempt: 1,
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** Schema validation by kubernetes-models plus the name/label rules the API server enforces. */
export function expectValidKubernetes(obj: { kind?: string; metadata?: { name?: string; labels?: Record<string, string> } } | undefined): void {
  expect(obj).toBeDefined()
  const o = JSON.parse(JSON.stringify(obj)) as Record<string, never>
  if (obj!.kind === 'Pod') new Pod(o).validate()
  else if (obj!.kind === 'ConfigMap') new ConfigMap(o).validate()
  else if (obj!.kind === 'Secret') new Secret(o).validate()
  else throw new Error(`unexpected kind ${obj!.kind}`)
  const name = obj!.metadata!.name!
  expect(name.length).toBeLessThanOrEqual(63)
  expect(name).toMatch(DNS_LABEL)
  for (const [k, v] of Object.entries(obj!.metadata!.labels ?? {})) {
    expect(v.length, k).toBeLessThanOrEqual(63)
    expect(v, k).toMatch(LABEL_VALUE)
  }
}

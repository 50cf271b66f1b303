// The issue's example workflow for the engine's acceptance tests on both runtimes: as the manifest
// language loads it (examples/data-flow.yaml), and as model objects built by hand (a variant script).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { lintFiles } from '../../src/manifest/index.js'
import type { StepModel, WorkflowResource } from '../../src/manifest/model.js'

const EXAMPLE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../examples/data-flow.yaml')

/** examples/data-flow.yaml, linted and normalized like `ctl apply` does (no issue allowed). */
export async function loadExample(): Promise<WorkflowResource> {
  const linted = await lintFiles([EXAMPLE], offlineManifestContext(), { interpolate: true, env: {} })
  if (linted.issues.length > 0) throw new Error(`the example does not lint: ${JSON.stringify(linted.issues)}`)
  const wf = linted.documents[0]!.resource as WorkflowResource
  return { ...wf, meta: { ...wf.meta, workspace: 'public' } }
}

function step(name: string, script: string, i: number, extra: Partial<StepModel> = {}): StepModel {
  return {
    name,
    depends: [],
    ...extra,
    spec: {
      stack: { name: 'script' },
      stackSpec: { interpreter: 'sh', script },
      compute: 'runnable-default',
      envs: {},
      volumes: [],
      projection: { secrets: [], envVars: [], files: [], arguments: [], allKeysAsEnv: [] },
    },
    path: ['spec', 'dag', i],
  }
}

export function exampleWorkflow(name = 'release', opts: { testScript?: string } = {}): WorkflowResource {
  return {
    meta: { name, version: 'v2alpha', type: 'workflow', tags: [], layer: 'user', workspace: 'public' },
    workflow: {
      params: [
        { name: 'environment', type: 'string', required: false, enum: ['staging', 'production'], default: 'staging' },
        { name: 'version', type: 'string', required: true },
        { name: 'regions', type: 'array', required: false, default: ['eu', 'us'] },
      ],
      dag: [
        step('build', 'echo "artifact=app-{{.params.version}}.tar" >> "$CTL_OUTPUTS"\necho \'files=["a.csv","b.csv","c.csv"]\' >> "$CTL_OUTPUTS"\n', 0),
        step('shard', 'echo "{{.item}} #{{.index}}"', 1, { depends: ['build'], forEach: { items: 'steps.build.outputs.files', parallelism: 2 } }),
        step('test', opts.testScript ?? 'echo "{{.matrix.os}} {{.matrix.py}}"', 2, {
          depends: ['build'],
          matrix: {
            axes: { os: ['debian', 'alpine'], py: ['3.11', '3.12'] },
            exclude: [{ os: 'alpine', py: '3.11' }],
            include: [{ os: 'debian', py: '3.13' }],
            failFast: true,
            parallelism: 2,
          },
        }),
        step('deploy', 'echo deploy {{.steps.build.outputs.artifact}}', 3, {
          depends: ['shard', 'test'],
          when: "params.environment == 'production' && steps.build.outputs.artifact != ''",
        }),
      ],
    },
  }
}

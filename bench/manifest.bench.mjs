// A generated 5,000-step workflow: lint (parse, schema, normalize, semantic
// checks) under 2 s, and every step resolved into its Pod under 3 s.
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const load = (path) => import(pathToFileURL(join(root, 'dist', path)).href)

export function generateWorkflow(steps) {
  const lines = ['version: v2alpha', 'name: generated-5000', 'type: workflow', 'description: generated for the benchmark', 'spec:', '  use:', '    projection:', '      secrets:', '        - id: bench-secret', '          contextAlias: app', '      projections:', '        envVars:', '          - key: TOKEN', '            value: "{{.secrets.app.TOKEN}}"', '  dag:']
  for (let i = 0; i < steps; i++) {
    // Layers of 50: each step depends on two steps of the layer before.
    const layer = Math.floor(i / 50)
    const depends = layer === 0 ? [] : [`step-${(layer - 1) * 50 + (i % 50)}`, `step-${(layer - 1) * 50 + ((i + 1) % 50)}`]
    lines.push(`    - name: step-${i}`)
    lines.push(`      title: Step ${i}`)
    if (depends.length) lines.push(`      depends: [${depends.join(', ')}]`)
    lines.push('      spec:')
    lines.push('        resources: {requests: {cpu: 100m, memory: 64Mi}}')
    lines.push('        stack: container')
    lines.push('        stackSpec:')
    lines.push('          image: docker.io/library/alpine:3.20')
    lines.push(`          command: [sh, -c, "echo step ${i}"]`)
  }
  return lines.join('\n') + '\n'
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

export default async function manifestBench() {
  const { lintSources } = await load('src/manifest/index.js')
  const { offlineManifestContext } = await load('src/cli/offline.js')
  const { StackRegistry } = await load('src/stack/registry.js')
  const { BUILTIN_COMPUTES } = await load('src/stack/pod.js')
  const { resolveWorkflowPods } = await load('src/stack/resolve.js')
  const { InMemorySecretProvider } = await load('src/projection/index.js')
  const text = generateWorkflow(5000)
  const lintMs = []
  const resolveMs = []
  let steps = 0
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now()
    const result = lintSources([{ file: 'generated.yaml', text }], offlineManifestContext(), { interpolate: true, env: {} })
    lintMs.push(performance.now() - t0)
    if (result.issues.length > 0) throw new Error(`generated workflow does not lint: ${result.issues[0].message}`)
    const workflow = result.documents[0].resource
    steps = workflow.workflow.dag.length
    const t1 = performance.now()
    const pods = await resolveWorkflowPods(workflow, {
      catalog: { stacks: StackRegistry.builtin(), computes: BUILTIN_COMPUTES },
      run: { runId: 'bench', revision: 1, runStartTime: new Date(0).toISOString(), owner: 'bench', workspace: 'public' },
      secrets: new InMemorySecretProvider(),
      mode: 'references',
    })
    resolveMs.push(performance.now() - t1)
    if (pods.length !== steps) throw new Error('not every step resolved')
  }
  const lint = median(lintMs)
  const resolve = median(resolveMs)
  return {
    steps,
    manifestBytes: text.length,
    lintMsRuns: lintMs.map((x) => +x.toFixed(1)),
    resolveMsRuns: resolveMs.map((x) => +x.toFixed(1)),
    targets: {
      lintMs: { value: +lint.toFixed(1), target: '< 2000 ms', met: lint < 2000 },
      resolvePodsMs: { value: +resolve.toFixed(1), target: '< 3000 ms', met: resolve < 3000 },
    },
  }
}

// Single-step workflows through the Kubernetes runtime, against the wire-level fake API server
// (test/support/fake-kube, bundled here with esbuild). The fake and its scripted kubelet run in
// this process; the control plane runs in a child process (runtime 'kubernetes', namespaces
// managed), so its CPU time is its own. This process is the client: it applies WORKFLOWS
// single-step workflows (the `container` stack, `sh -c` echoing two lines) in batches of 100;
// each runs once on apply. Every run must succeed. A second round of WORKFLOWS does the same with
// steps that project a Secret value and a plain file, so each Pod also has a Secret and a
// ConfigMap to create and hand over to it (owner references). Figures, per round:
//   requestsPerPod  API requests the fake received / Pods created, log requests INCLUDED (each
//                   log stream or log read counts as one request when it is opened, as a watch
//                   does): what a cluster's API server pays per Pod
//   cpuMsPerPod     control-plane CPU time (user + system) / Pods created
// A one-workflow warm-up first creates the namespace, loads the client library and opens any
// shared watch; neither it nor its requests are counted (warmupRequests lists them).
// Target: at most 6 API requests per Pod lifecycle, in both rounds.
//
// Alone: `node bench/kubernetes.bench.mjs` (BENCH_K8S_WORKFLOWS=50 to try it small) writes
// bench/results/kubernetes.json; `npm run bench` (or `node bench/run.mjs kubernetes`) also
// updates the README table.
import { startPlaneProcess } from './plane.mjs'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = (rel) => pathToFileURL(path.join(root, 'dist', rel)).href
const WORKFLOWS = Number(process.env.BENCH_K8S_WORKFLOWS ?? 1000)
const BATCH = 100
const TARGET_REQUESTS_PER_POD = 6
/** Generous: the runs themselves take a few seconds; this only stops a hung bench. */
const TIMEOUT_MS = Number(process.env.BENCH_K8S_TIMEOUT_SECONDS ?? 600) * 1000
/** 0: skip the second round, whose steps project a Secret value and a file. */
const PROJECTED = process.env.BENCH_K8S_PROJECTED !== '0'
const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'killed'])

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * The fake is TypeScript under test/; bundled to an .mjs next to node_modules, because its one
 * runtime dependency (kubernetes-models) is left external and must resolve from there.
 */
async function loadFakeKube() {
  const esbuild = await import('esbuild')
  const outDir = path.join(root, 'node_modules', '.cache', 'ctl-bench')
  fs.mkdirSync(outDir, { recursive: true })
  const outfile = path.join(outDir, `fake-kube-${process.pid}.mjs`)
  await esbuild.build({
    entryPoints: [path.join(root, 'test', 'support', 'fake-kube', 'index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'error',
  })
  try {
    return await import(pathToFileURL(outfile).href)
  } finally {
    fs.rmSync(outfile, { force: true })
  }
}

const manifest = (name) => ({
  version: 'v2alpha',
  name,
  type: 'workflow',
  spec: {
    dag: [
      {
        name: 'only',
        spec: {
          stack: 'container',
          stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['sh', '-c', `echo hello from ${name}; echo done`] },
        },
      },
    ],
  },
})

const secretManifest = {
  version: 'v1',
  name: 'k8s-bench-secret',
  type: 'secret',
  secret: { type: 'key-value', acl: 'r', data: { TOKEN: 'bench-token-not-a-secret' } },
}

/** A step with what a real one often carries: a Secret value in its environment and in a file (a Secret), and a plain file (a ConfigMap). */
const projectedManifest = (name) => ({
  version: 'v2alpha',
  name,
  type: 'workflow',
  spec: {
    use: { projection: { secrets: [{ id: 'k8s-bench-secret', contextAlias: 'app' }] } },
    dag: [
      {
        name: 'only',
        spec: {
          use: {
            projection: {
              projections: {
                envVars: [
                  { key: 'RUN_ID', value: '{{.defaultProjections.dataOsRunId}}' },
                  { key: 'TOKEN', value: '{{.secrets.app.TOKEN}}' },
                ],
                files: [
                  { name: 'token.properties', directory: '/etc/ctl/projection', value: 'token={{.secrets.app.TOKEN}}\n' },
                  { name: 'run.properties', directory: '/etc/ctl/projection', value: 'run={{.defaultProjections.dataOsRunId}}\n' },
                ],
              },
            },
          },
          stack: 'container',
          stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['sh', '-c', `echo hello from ${name}; echo done`] },
        },
      },
    ],
  },
})

const isPodCreate = (r) => r.method === 'POST' && r.kind === 'request' && /\/pods$/.test(r.path) && r.status < 300

/**
 * Until every named workflow's RUNTIME column shows an ended run. Progress is watched on the fake
 * (in this process): the listing is asked for once every Pod of the round was created and deleted
 * again, and otherwise only every few seconds (a run that fails before its Pod exists), so that
 * polling adds next to nothing to the control plane's CPU time.
 */
async function awaitEnded({ client, fake, namespace }, names, fromRequest, deadline) {
  const wanted = new Set(names)
  let listedAt = Date.now()
  for (;;) {
    const podsDone = fake.requests.slice(fromRequest).filter(isPodCreate).length >= wanted.size && fake.list('pods', namespace).length === 0
    if (podsDone || Date.now() - listedAt > 5000) {
      listedAt = Date.now()
      const rows = (await client.list({ workspace: 'public', type: 'workflow' })).filter((r) => wanted.has(r.name))
      const open = rows.filter((r) => !ENDED.has(r.runtime))
      if (rows.length === wanted.size && open.length === 0) return rows
      if (Date.now() > deadline) throw new Error(`kubernetes bench: ${open.length + wanted.size - rows.length} of ${wanted.size} workflows did not end in time`)
    }
    await sleep(podsDone ? 200 : 50)
  }
}

/** Cleanup (Pod deletion) runs after a run has ended, in the background: wait for it before counting. */
async function awaitNoPods(fake, namespace, deadline) {
  while (fake.list('pods', namespace).length > 0) {
    if (Date.now() > deadline) throw new Error(`kubernetes bench: ${fake.list('pods', namespace).length} Pods still in ${namespace}`)
    await sleep(100)
  }
  // A last DELETE may still be in flight on the wire after the store dropped the Pod.
  await sleep(300)
}

/** "POST pods", "GET watch pods", "DELETE pods", "GET pods/log" ... from a recorded request. */
function requestKey(r) {
  const seg = r.path.replace(/^\/api\/v1\/?/, '').split('/').filter(Boolean)
  let resource
  if (seg[0] === 'namespaces' && seg.length >= 3) resource = seg.slice(2).filter((_, i) => i !== 1).join('/')
  else resource = seg[0] ?? '?'
  return `${r.method}${r.kind === 'watch' ? ' watch' : ''} ${resource}`
}

function tally(records, keyOf) {
  const out = {}
  for (const r of records) {
    const k = keyOf(r)
    out[k] = (out[k] ?? 0) + 1
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]))
}

/**
 * Applies the workflows `manifestOf(name)` in batches, waits for every run and the Pods' cleanup,
 * and measures what the control plane did meanwhile: its CPU time and the API requests it sent.
 */
async function phase({ client, plane, fake, namespace, names, manifestOf }) {
  const before = await plane.usage()
  const fromRequest = fake.requests.length
  const t0 = Date.now()
  const deadline = t0 + TIMEOUT_MS
  for (let i = 0; i < names.length; i += BATCH) {
    const res = await client.apply('public', names.slice(i, i + BATCH).map((name) => ({ manifest: manifestOf(name) })))
    const notCreated = res.results.filter((r) => r.outcome !== 'created')
    if (notCreated.length > 0) throw new Error(`kubernetes bench: apply answered ${JSON.stringify(notCreated.slice(0, 3))}`)
  }
  const applySeconds = (Date.now() - t0) / 1000
  const rows = await awaitEnded({ client, fake, namespace }, names, fromRequest, deadline)
  const wallSeconds = (Date.now() - t0) / 1000
  await awaitNoPods(fake, namespace, deadline)
  const after = await plane.usage()

  const notSucceeded = rows.filter((r) => r.runtime !== 'succeeded')
  if (notSucceeded.length > 0) {
    throw new Error(`kubernetes bench: ${notSucceeded.length} of ${rows.length} runs did not succeed, e.g. ${notSucceeded.slice(0, 5).map((r) => `${r.name}: ${r.runtime}`).join(', ')}`)
  }
  // Every workflow ran exactly once (the RUNTIME column shows only the latest run). Not measured.
  const runLists = []
  for (let i = 0; i < names.length; i += 50) {
    runLists.push(...(await Promise.all(names.slice(i, i + 50).map((name) => client.runs({ workspace: 'public', type: 'workflow', name }, { limit: 2 })))))
  }
  const off = runLists.map((runs, i) => ({ name: names[i], runs })).filter((x) => x.runs.length !== 1 || x.runs[0].state !== 'succeeded')
  if (off.length > 0) throw new Error(`kubernetes bench: ${off.length} workflows did not run exactly once to succeeded, e.g. ${off[0].name}: ${JSON.stringify(off[0].runs.map((r) => r.state))}`)
  if (fake.validationFailures.length > 0) throw new Error(`kubernetes bench: the fake rejected ${fake.validationFailures.length} objects, e.g. ${JSON.stringify(fake.validationFailures[0].messages)}`)

  const measured = fake.requests.slice(fromRequest)
  // Every request counts, log streams too: the API server serves them like any other.
  const counted = measured
  const pods = measured.filter(isPodCreate).length
  if (pods !== names.length) throw new Error(`kubernetes bench: ${pods} Pods created for ${names.length} single-step runs`)
  const cpuMs = after.cpuMs - before.cpuMs
  return {
    workflows: names.length,
    podsCreated: pods,
    applySeconds: +applySeconds.toFixed(2),
    wallSeconds: +wallSeconds.toFixed(2),
    controlPlaneCpuMs: Math.round(cpuMs),
    controlPlaneCpuMsPerPod: +(cpuMs / pods).toFixed(2),
    apiRequests: counted.length,
    requestsPerPod: +(counted.length / pods).toFixed(2),
    logRequests: measured.filter((r) => r.kind === 'log').length,
    requestsByKind: tally(counted, requestKey),
    requestsNot2xx: tally(counted.filter((r) => r.status >= 300), (r) => `${requestKey(r)} ${r.status}`),
    // What the Pods' deletion left behind (an owner reference lets the garbage collector take it).
    leftInNamespace: { secrets: fake.list('secrets', namespace).length, configmaps: fake.list('configmaps', namespace).length },
  }
}

export default async function kubernetes() {
  const { startFakeKube } = await loadFakeKube()
  const { CtlClient } = await import(dist('src/client/client.js'))
  // Each Pod adds about ten events (its own transitions and Event objects): keep them all, so a
  // watch that resumes from an older resourceVersion is answered, not sent 410 Gone.
  const fake = await startFakeKube({ historyLimit: Math.max(10_000, (WORKFLOWS + 1) * 2 * 50) })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-bench-k8s-'))
  let plane
  try {
    plane = await startPlaneProcess({ dataDir: path.join(dir, 'data'), runtime: 'kubernetes', kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true } })
    const client = new CtlClient({ baseUrl: plane.url, apiKey: plane.token })
    const namespace = 'ctl-public'
    const ctx = { client, plane, fake, namespace }

    const secret = await client.apply('public', [{ manifest: secretManifest }])
    if (secret.results[0]?.outcome !== 'created') throw new Error(`kubernetes bench: secret apply answered ${JSON.stringify(secret.results)}`)
    const warm = await client.apply('public', [{ manifest: manifest('k8s-warm-up') }])
    if (warm.results[0]?.outcome !== 'created') throw new Error(`kubernetes bench: warm-up apply answered ${JSON.stringify(warm.results)}`)
    const [warmRow] = await awaitEnded(ctx, ['k8s-warm-up'], 0, Date.now() + 60_000)
    if (warmRow.runtime !== 'succeeded') throw new Error(`kubernetes bench: warm-up run ended ${warmRow.runtime}`)
    await awaitNoPods(fake, namespace, Date.now() + 60_000)
    // The one-off requests (namespace, a shared watch, if any) show here, outside the per-Pod figures.
    const warmupRequests = tally(fake.requests, requestKey)
    const startCpu = await plane.usage()

    const names = (prefix) => Array.from({ length: WORKFLOWS }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`)
    const minimal = await phase({ ...ctx, names: names('k8s'), manifestOf: manifest })
    const projected = PROJECTED ? await phase({ ...ctx, names: names('k8s-projected'), manifestOf: projectedManifest }) : undefined
    const end = await plane.usage()

    const { workflows, podsCreated, applySeconds, wallSeconds, controlPlaneCpuMs, controlPlaneCpuMsPerPod, ...requests } = minimal
    const met = minimal.requestsPerPod <= TARGET_REQUESTS_PER_POD
    const metProjected = projected ? projected.requestsPerPod <= TARGET_REQUESTS_PER_POD : undefined
    const target = `<= ${TARGET_REQUESTS_PER_POD}`
    return {
      runtime: 'kubernetes (fake API server, scripted kubelet, default 2 ms per transition)',
      step: 'container stack, sh -c echoing two lines',
      workflows,
      podsCreated,
      applyBatch: BATCH,
      applySeconds,
      wallSeconds,
      controlPlane: {
        cpuMs: controlPlaneCpuMs,
        cpuMsPerPod: controlPlaneCpuMsPerPod,
        cpuMsAtStartAndWarmUp: Math.round(startCpu.cpuMs),
        peakRssMB: Math.round(end.maxRssMB),
      },
      ...requests,
      warmupRequests,
      // The same, each step also projecting a Secret value (env and file) and a plain file: a Secret and a ConfigMap per Pod.
      projected,
      target: { requestsPerPod: TARGET_REQUESTS_PER_POD, met, ...(projected ? { projectedMet: metProjected } : {}) },
      targets: {
        requestsPerPod: { value: minimal.requestsPerPod, target, met },
        ...(projected ? { requestsPerPodProjected: { value: projected.requestsPerPod, target, met: metProjected } } : {}),
      },
    }
  } finally {
    await plane?.close()
    await fake.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// Alone: write the record the way bench/run.mjs does (run.mjs also refreshes the README table).
if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  const result = await kubernetes()
  const record = { benchmark: 'kubernetes', date: new Date().toISOString(), node: process.version, ...result }
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true })
  fs.writeFileSync(path.join(root, 'bench', 'results', 'kubernetes.json'), JSON.stringify(record, null, 2) + '\n')
  process.stdout.write(JSON.stringify(record, null, 2) + '\n')
  if (Object.values(result.targets).some((t) => !t.met)) process.exitCode = 1
}

// What the console reads from a workflow manifest and a run: steps with their dependencies, the
// declared params, and each node's state. Manifests come raw (v2alpha: spec.dag/depends; v1:
// workflow.dag/dependencies) or normalized (workflow.dag/depends); all three read the same here.

function bodyOf(manifest) {
  if (!manifest || typeof manifest !== 'object') return {}
  if (manifest.workflow && typeof manifest.workflow === 'object') return manifest.workflow
  return manifest.spec && typeof manifest.spec === 'object' ? manifest.spec : {}
}

function stepOf(s) {
  const deps = s.depends ?? s.dependencies ?? []
  return {
    name: String(s.name),
    depends: (Array.isArray(deps) ? deps : []).map((d) => String(typeof d === 'object' && d !== null ? d.name ?? d.step : d).split(/[.:]/)[0]),
    approval: s.approval !== undefined && s.approval !== null,
    fanout: s.forEach !== undefined || s.matrix !== undefined,
    title: s.title,
  }
}

/** The DAG and finally steps of a workflow manifest. */
export function stepsOf(manifest) {
  const body = bodyOf(manifest)
  const dag = (Array.isArray(body.dag) ? body.dag : []).map(stepOf)
  const fin = (Array.isArray(body.finally) ? body.finally : []).map(stepOf)
  return { dag, finally: fin }
}

/** Declared params: {name, type, default, required, enum, description, secret}. */
export function paramsOf(manifest) {
  const body = bodyOf(manifest)
  return Array.isArray(body.params) ? body.params.filter((p) => p && typeof p.name === 'string') : []
}

/**
 * Per step name: its latest attempt (or, for a fanned-out step, a summary of its instances). Instances
 * carry `parent`; the parent's own record (if any) is kept as `self`.
 */
export function nodeStates(steps) {
  const latest = new Map()
  for (const s of steps ?? []) {
    const prev = latest.get(s.step)
    if (!prev || s.attempt >= prev.attempt) latest.set(s.step, s)
  }
  const nodes = new Map()
  const instances = new Map()
  for (const s of latest.values()) {
    if (s.parent) {
      if (!instances.has(s.parent)) instances.set(s.parent, [])
      instances.get(s.parent).push(s)
    } else nodes.set(s.step, { state: s.state, record: s })
  }
  for (const [parent, list] of instances) {
    list.sort((a, b) => (a.instance?.index ?? 0) - (b.instance?.index ?? 0))
    const counts = {}
    for (const i of list) counts[i.state] = (counts[i.state] ?? 0) + 1
    const own = nodes.get(parent)
    nodes.set(parent, { state: groupState(counts, own?.state), record: own?.record, instances: list, counts })
  }
  return nodes
}

const RANK = ['failed', 'running', 'waiting', 'pending', 'cancelled', 'skipped', 'succeeded']
/** A group is as far along as its least finished instance: any failure shows, then running, and so on. */
function groupState(counts, own) {
  for (const s of RANK) if (counts[s]) return s
  return own ?? 'pending'
}

export const FINAL_RUN = new Set(['succeeded', 'failed', 'cancelled', 'killed'])
export const ACTIVE_RUN = new Set(['pending', 'running', 'suspended'])

/** `1m 05s` from two ISO times (to now while running). */
export function duration(from, to) {
  if (!from) return ''
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from)
  if (!Number.isFinite(ms) || ms < 0) return ''
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`
}

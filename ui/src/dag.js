// The DAG as SVG, laid out left to right by dagre. The layout depends only on the graph's shape
// (steps, edges, which fan-out groups are open), so a state change recolours nodes without laying
// out again. Fan-out instances sit in their parent's node as a count per state until it is opened.
import { html } from 'htm/preact'
import { useMemo } from 'preact/hooks'
import dagre from '@dagrejs/dagre'

const W = 168
const H = 44
const IW = 132
const IH = 30

function layout(dag, fin, open, instancesOf) {
  const g = new dagre.graphlib.Graph()
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 48, marginx: 12, marginy: 12 })
  g.setDefaultEdgeLabel(() => ({}))
  const names = new Set(dag.map((s) => s.name))
  for (const s of dag) g.setNode(s.name, { width: W, height: H })
  // Steps that share the same dependencies (2 or more) meet them at one junction: a barrier between
  // layers of 20 steps is 40 edges instead of 400, easier to read and far cheaper to lay out.
  const bySet = new Map()
  for (const s of dag) {
    const deps = [...new Set(s.depends.filter((d) => names.has(d)))].sort()
    if (deps.length < 2) continue
    const key = deps.join('\u0000')
    if (!bySet.has(key)) bySet.set(key, { deps, steps: [] })
    bySet.get(key).steps.push(s.name)
  }
  const joined = new Set()
  let j = 0
  for (const { deps, steps: members } of bySet.values()) {
    if (members.length < 2) continue
    const id = `\u0001junction${j++}`
    g.setNode(id, { width: 8, height: 8, junction: true })
    for (const d of deps) g.setEdge(d, id, { kind: 'join' })
    for (const m of members) { g.setEdge(id, m, { kind: 'dep' }); joined.add(m) }
  }
  for (const s of dag) if (!joined.has(s.name)) for (const d of s.depends) if (names.has(d)) g.setEdge(d, s.name, { kind: 'dep' })
  const sinks = dag.filter((s) => !dag.some((o) => o.depends.includes(s.name)))
  let prev = null
  for (const f of fin) {
    g.setNode(f.name, { width: W, height: H })
    if (prev) g.setEdge(prev, f.name, { kind: 'finally' })
    else for (const s of sinks) g.setEdge(s.name, f.name, { kind: 'finally' })
    prev = f.name
  }
  for (const parent of open) {
    for (const inst of instancesOf(parent)) {
      const id = `${parent}\u0000${inst.step}`
      g.setNode(id, { width: IW, height: IH, instance: inst.step, parent })
      g.setEdge(parent, id, { kind: 'instance' })
    }
  }
  // The crossing-minimisation sweeps cost most on big graphs; past a few hundred nodes and edges a
  // quick order is worth more than a perfect one.
  dagre.layout(g, { disableOptimalOrderHeuristic: g.nodeCount() + g.edgeCount() > 400 })
  const nodes = g.nodes().map((id) => ({ id, ...g.node(id) }))
  const edges = g.edges().map((e) => ({ ...e, ...g.edge(e) }))
  const { width, height } = g.graph()
  return { nodes, edges, width, height }
}

function path(points) {
  if (!points || points.length === 0) return ''
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')
}

const SHORT = { succeeded: '✓', failed: '✗', running: '▶', pending: '…', waiting: '⏸', skipped: '↷', cancelled: '■' }

function summary(counts) {
  return Object.entries(counts).map(([s, n]) => `${n}${SHORT[s] ?? s}`).join(' ')
}

/**
 * steps: {dag, finally} from stepsOf; states: Map from nodeStates; selected: step name or instance name;
 * open: Set of fan-out parents shown expanded.
 */
export function Dag({ steps, states, selected, onSelect, open, onToggle }) {
  const shapeKey = JSON.stringify([steps.dag, steps.finally, [...open].sort(), [...open].map((p) => (states.get(p)?.instances ?? []).map((i) => i.step))])
  const g = useMemo(
    () => layout(steps.dag, steps.finally, [...open], (p) => states.get(p)?.instances ?? []),
    [shapeKey],
  )
  const key = (e, name) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect(name) }
  }
  return html`
    <svg class="dag" role="group" aria-label="workflow graph" width=${g.width} height=${g.height} viewBox=${`0 0 ${g.width} ${g.height}`}
         style=${`max-width: 100%; min-width: ${Math.round(g.width * 0.6)}px; height: auto`}>
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
        </marker>
      </defs>
      ${g.edges.map((e) => html`<path key=${`${e.v}>${e.w}`} class=${`edge edge-${e.kind}`} d=${path(e.points)} marker-end=${e.kind === 'join' ? undefined : 'url(#arrow)'} />`)}
      ${g.nodes.map((n) => {
        if (n.junction) return html`<circle key=${n.id} class="junction" cx=${n.x} cy=${n.y} r="4" />`
        const x = n.x - n.width / 2
        const y = n.y - n.height / 2
        if (n.instance) {
          const inst = (states.get(n.parent)?.instances ?? []).find((i) => i.step === n.instance)
          const state = inst?.state ?? 'pending'
          return html`
            <g key=${n.id} class=${`node instance state-${state}${selected === n.instance ? ' selected' : ''}`} transform=${`translate(${x},${y})`}
               tabindex="0" role="button" data-step=${n.instance} data-state=${state} aria-label=${`${n.instance}: ${state}`}
               onClick=${() => onSelect(n.instance)} onKeyDown=${(e) => key(e, n.instance)}>
              <rect width=${n.width} height=${n.height} rx="6" />
              <text x="10" y=${n.height / 2 + 4}>${n.instance.length > 18 ? `${n.instance.slice(0, 17)}…` : n.instance}</text>
            </g>`
        }
        const st = states.get(n.id)
        const state = st?.state ?? 'pending'
        const group = st?.instances
        return html`
          <g key=${n.id} class=${`node state-${state}${selected === n.id ? ' selected' : ''}`} transform=${`translate(${x},${y})`}
             tabindex="0" role="button" data-step=${n.id} data-state=${state} aria-label=${`${n.id}: ${state}${group ? `, ${group.length} instances` : ''}`}
             onClick=${() => onSelect(n.id)} onKeyDown=${(e) => key(e, n.id)}>
            <rect width=${n.width} height=${n.height} rx="8" />
            <text class="name" x="10" y="18">${n.id.length > 20 ? `${n.id.slice(0, 19)}…` : n.id}</text>
            <text class="sub" x="10" y="34">${group ? `×${group.length} ${summary(st.counts)}` : state}</text>
            ${group && html`
              <g class="toggle" transform=${`translate(${n.width - 22},${n.height / 2 - 9})`} tabindex="0" role="button"
                 aria-label=${open.has(n.id) ? `collapse ${n.id}` : `expand ${n.id}`} aria-expanded=${open.has(n.id)}
                 onClick=${(e) => { e.stopPropagation(); onToggle(n.id) }}
                 onKeyDown=${(e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); e.stopPropagation(); onToggle(n.id) } }}>
                <rect width="18" height="18" rx="4" /><text x="9" y="13" text-anchor="middle">${open.has(n.id) ? '−' : '+'}</text>
              </g>`}
          </g>`
      })}
    </svg>`
}

// A run's graph beside the selected node's panel, fed by the run's SSE stream (no polling): each
// `run` event carries the whole run detail, so a missed event costs nothing.
import { html } from 'htm/preact'
import { useEffect, useMemo, useState } from 'preact/hooks'
import { subscribe, enc } from '../api.js'
import { Dag } from '../dag.js'
import { nodeStates } from '../model.js'
import { NodePanel } from './node.js'

/** The live detail of run `runId` (null until the first event). */
export function useRunDetail(runId) {
  const [detail, setDetail] = useState(null)
  useEffect(() => {
    if (!runId) { setDetail(null); return }
    const sub = subscribe(`/api/v1/runs/${enc(runId)}/events`, (name, data) => {
      if (name === 'run' && data && data.run) setDetail(data)
      if (name === 'end') sub.close()
    })
    return () => sub.close()
  }, [runId])
  return detail
}

export function RunView({ ws, name, steps, detail, may }) {
  const [selected, setSelected] = useState(null)
  const [open, setOpen] = useState(new Set())
  const states = useMemo(() => nodeStates(detail?.steps), [detail])
  const toggle = (p) => {
    const next = new Set(open)
    if (next.has(p)) next.delete(p)
    else next.add(p)
    setOpen(next)
  }
  let record = null
  let instances = null
  if (selected) {
    const own = states.get(selected)
    if (own) { record = own.record ?? own.instances?.at(-1) ?? null; instances = own.instances ?? null }
    else for (const s of states.values()) { const i = s.instances?.find((x) => x.step === selected); if (i) record = i }
  }
  return html`
    <div class="runview">
      <div class="graph" data-run=${detail?.run.id ?? ''} data-run-state=${detail?.run.state ?? ''}>
        ${steps.dag.length === 0 ? html`<p class="muted">This workflow has no steps.</p>`
          : html`<${Dag} steps=${steps} states=${states} selected=${selected} onSelect=${setSelected} open=${open} onToggle=${toggle} />`}
      </div>
      ${selected && detail && html`<${NodePanel} ws=${ws} name=${name} runId=${detail.run.id} step=${selected} record=${record}
          instances=${instances} may=${may} onClose=${() => setSelected(null)} onSelect=${setSelected} key=${selected} />`}
    </div>`
}

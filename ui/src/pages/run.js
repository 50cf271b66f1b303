// One run: the same graph as the workflow page, for that run and its revision's manifest.
import { html } from 'htm/preact'
import { useEffect, useMemo, useState } from 'preact/hooks'
import { api, enc, resourcePath } from '../api.js'
import { Link, ui } from '../router.js'
import { stepsOf, duration } from '../model.js'
import { RunView, useRunDetail } from '../parts/run-view.js'
import { RunActions, usePermissions } from '../parts/actions.js'
import { LogViewer } from '../parts/logs.js'

export function RunPage({ id }) {
  const [first, setFirst] = useState(null)
  const [error, setError] = useState('')
  const [manifest, setManifest] = useState(null)
  const [showLog, setShowLog] = useState(false)
  useEffect(() => { api(`/api/v1/runs/${enc(id)}`).then(setFirst, (e) => setError(e.message)) }, [id])
  const live = useRunDetail(id)
  const detail = live ?? first
  const run = detail?.run
  const ws = run?.workspace ?? null
  const name = run?.resourceName
  useEffect(() => {
    if (!run) return
    api(`${resourcePath(ws, 'workflow', name)}?revision=${run.revision}`).then((d) => setManifest(d.manifest), (e) => setError(e.message))
  }, [run?.id])
  const may = usePermissions(ws, name ?? '')
  const steps = useMemo(() => stepsOf(manifest), [manifest])
  if (error) return html`<main class="page"><p class="error" role="alert">${error}</p></main>`
  if (!run) return html`<main class="page"><p aria-busy="true">Loading…</p></main>`
  return html`
    <main class="page run">
      <div class="titlebar">
        <h1><${Link} href=${ui.workflow(ws ?? '', name)}>${name}</${Link}> / ${run.id}</h1>
        <span class=${`badge state-${run.state}`} id="run-state">${run.state}</span>
        <span class="muted">${detail.progress} · ${run.trigger} · r${run.revision} · ${duration(run.startedAt, run.finishedAt)}</span>
        <span class="spacer" />
        <${RunActions} ws=${ws} name=${name} run=${run} may=${may} />
      </div>
      ${run.params && html`<p class="params">params: ${Object.entries(run.params).map(([k, v]) => html`<code>${k}=${typeof v === 'string' ? v : JSON.stringify(v)}</code> `)}</p>`}
      ${run.reason && html`<p class="reason">${run.reason}</p>`}
      <${RunView} ws=${ws} name=${name} steps=${steps} detail=${detail} may=${may} />
      <p><button onClick=${() => setShowLog(!showLog)} aria-expanded=${showLog}>${showLog ? 'Hide' : 'Show'} the whole run's log</button></p>
      ${showLog && html`<${LogViewer} runId=${run.id} />`}
    </main>`
}

// A workflow: its DAG coloured by the newest (or chosen) run, live from the workflow's runs stream and
// the run's own stream; run history with durations, trigger and params; the actions the user may take.
import { html } from 'htm/preact'
import { useEffect, useMemo, useState } from 'preact/hooks'
import { api, subscribe, resourcePath, enc } from '../api.js'
import { Link, ui } from '../router.js'
import { stepsOf, paramsOf, duration } from '../model.js'
import { RunView, useRunDetail } from '../parts/run-view.js'
import { RunActions, RunForm, usePermissions } from '../parts/actions.js'

export function RunHistory({ runs, current, onPick }) {
  return html`
    <table class="grid" id="runs">
      <thead><tr><th>RUN</th><th>STATE</th><th>TRIGGER</th><th>STARTED</th><th>DURATION</th><th>REV</th><th>PARAMS</th></tr></thead>
      <tbody>
        ${runs.length === 0 && html`<tr><td colspan="7" class="muted">No runs yet.</td></tr>`}
        ${runs.map((r) => html`
          <tr key=${r.id} class=${r.id === current ? 'current' : ''} data-run=${r.id}>
            <td><${Link} href=${ui.run(r.id)}>${r.id}</${Link}>${onPick && html` <button class="link" onClick=${() => onPick(r.id)} aria-label=${`show run ${r.id} in the graph`}>show</button>`}</td>
            <td><span class=${`badge state-${r.state}`}>${r.state}</span>${r.reason ? html` <span class="muted">${r.reason}</span>` : ''}</td>
            <td>${r.trigger}</td>
            <td>${r.startedAt ? new Date(r.startedAt).toLocaleString() : ''}</td>
            <td>${duration(r.startedAt, r.finishedAt)}</td>
            <td>${r.revision}</td>
            <td class="params">${r.params ? Object.entries(r.params).map(([k, v]) => html`<code>${k}=${typeof v === 'string' ? v : JSON.stringify(v)}</code> `) : ''}</td>
          </tr>`)}
      </tbody>
    </table>`
}

export function Workflow({ ws, name }) {
  const [res, setRes] = useState(null)
  const [error, setError] = useState('')
  const [runs, setRuns] = useState([])
  const [picked, setPicked] = useState(null)
  const may = usePermissions(ws, name)
  useEffect(() => {
    api(`${resourcePath(ws, 'workflow', name)}?revisions=true`).then(setRes, (e) => setError(e.message))
    const sub = subscribe(`${resourcePath(ws, 'workflow', name)}/events?limit=20`, (ev, data) => {
      if (ev === 'runs' && data && Array.isArray(data.runs)) setRuns(data.runs)
    })
    return () => sub.close()
  }, [ws, name])
  const runId = picked ?? runs[0]?.id ?? null
  const detail = useRunDetail(runId)
  const run = detail?.run ?? runs.find((r) => r.id === runId)
  // A run's graph is its revision's: fetch that manifest when it differs from the current one.
  const [revManifest, setRevManifest] = useState(null)
  useEffect(() => {
    if (!res || !run || run.revision === res.resource.revision) { setRevManifest(null); return }
    api(`${resourcePath(ws, 'workflow', name)}?revision=${run.revision}`).then((d) => setRevManifest(d.manifest), () => setRevManifest(null))
  }, [res?.resource.revision, run?.revision])
  const manifest = revManifest ?? res?.manifest
  const steps = useMemo(() => stepsOf(manifest), [manifest])
  if (error) return html`<main class="page"><p class="error" role="alert">${error}</p></main>`
  if (!res) return html`<main class="page"><p aria-busy="true">Loading…</p></main>`
  return html`
    <main class="page workflow" data-workflow=${name} data-perms=${Object.keys(may).length > 0 ? 'loaded' : ''}>
      <div class="titlebar">
        <h1><${Link} href=${ui.workspace(ws)} class="muted">${ws}</${Link}> / ${name}</h1>
        <span class=${`badge status-${res.resource.status}`}>${res.resource.status}</span>
        <span class="muted">r${res.resource.revision} · owner ${res.resource.owner}</span>
        <span class="spacer" />
        <${Link} href=${ui.revisions(ws, 'workflow', name)}>Manifest & revisions</${Link}>
        ${may.run && html`<${RunForm} ws=${ws} name=${name} params=${paramsOf(res.manifest)} onStarted=${(r) => r.run && setPicked(r.run.id)} />`}
      </div>
      <div class="runbar">
        ${run ? html`<span>Run <${Link} href=${ui.run(run.id)} id="current-run">${run.id}</${Link}></span>
          <span class=${`badge state-${run.state}`} id="run-state">${run.state}</span>
          <span class="muted">${detail?.progress ?? ''}</span>` : html`<span class="muted">No runs yet: the graph shows the steps.</span>`}
        <span class="spacer" />
        <${RunActions} ws=${ws} name=${name} run=${run} may=${may} />
      </div>
      <${RunView} ws=${ws} name=${name} steps=${steps} detail=${detail} may=${may} />
      <h2>Run history</h2>
      <${RunHistory} runs=${runs} current=${runId} onPick=${setPicked} />
    </main>`
}

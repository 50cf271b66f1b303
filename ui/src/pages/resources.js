// Resources of a workspace with STATUS / RUNTIME / OWNER, filtered by type, tag, label and name
// (the list route does the filtering, so the page shows exactly what `ctl resource get` would).
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { api, enc } from '../api.js'
import { Link, navigate, ui } from '../router.js'

const TYPES = ['', 'workflow', 'service', 'secret', 'depot', 'compute', 'instance-secret']

export function Resources({ ws }) {
  const [workspaces, setWorkspaces] = useState([ws])
  const [filter, setFilter] = useState({ type: '', name: '', tags: '', labels: '' })
  const [rows, setRows] = useState(null)
  const [error, setError] = useState('')
  useEffect(() => {
    api('/api/v1/workspaces').then((r) => setWorkspaces([...new Set([ws, ...r.workspaces.map((w) => w.name)])]), () => {})
  }, [ws])
  useEffect(() => {
    const q = new URLSearchParams({ workspace: ws })
    if (filter.type) q.set('type', filter.type)
    if (filter.name.trim()) q.set('name', filter.name.trim())
    if (filter.tags.trim()) q.set('tags', filter.tags.trim())
    if (filter.labels.trim()) q.set('labelSelector', filter.labels.trim())
    const ctl = new AbortController()
    setError('')
    api(`/api/v1/resources?${q}`, { signal: ctl.signal }).then((r) => setRows(r.resources), (e) => { if (e.name !== 'AbortError') { setError(e.message); setRows([]) } })
    return () => ctl.abort()
  }, [ws, filter.type, filter.name, filter.tags, filter.labels])
  const set = (k) => (e) => setFilter({ ...filter, [k]: e.target.value })
  return html`
    <main class="page">
      <h1>Resources</h1>
      <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="filters">
        <label>Workspace
          <select id="workspace" value=${ws} onChange=${(e) => navigate(ui.workspace(e.target.value))}>
            ${workspaces.map((w) => html`<option value=${w}>${w}</option>`)}
          </select></label>
        <label>Type
          <select id="filter-type" value=${filter.type} onChange=${set('type')}>
            ${TYPES.map((t) => html`<option value=${t}>${t || 'any'}</option>`)}
          </select></label>
        <label>Name <input id="filter-name" value=${filter.name} onInput=${set('name')} maxlength="253" /></label>
        <label>Tags <input id="filter-tags" value=${filter.tags} onInput=${set('tags')} placeholder="a,b" maxlength="500" /></label>
        <label>Labels <input id="filter-labels" value=${filter.labels} onInput=${set('labels')} placeholder="team=data,tier!=gold" maxlength="500" /></label>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${rows === null ? html`<p aria-busy="true">Loading…</p>` : html`
        <table class="grid" id="resources">
          <thead><tr><th>NAME</th><th>TYPE</th><th>VERSION</th><th>STATUS</th><th>RUNTIME</th><th>OWNER</th><th>REVISIONS</th></tr></thead>
          <tbody>
            ${rows.length === 0 && html`<tr><td colspan="7" class="muted">No resources match.</td></tr>`}
            ${rows.map((r) => html`
              <tr key=${r.id} data-name=${r.name}>
                <td>${r.type === 'workflow' ? html`<${Link} href=${ui.workflow(ws, r.name)}>${r.name}</${Link}>` : r.name}</td>
                <td>${r.type}</td><td>${r.version}</td>
                <td><span class=${`badge status-${r.status}`}>${r.status}</span></td>
                <td><span class=${`badge state-${String(r.runtime).split(/[\s(]/)[0]}`}>${r.runtime}</span></td>
                <td>${r.owner}</td>
                <td><${Link} href=${ui.revisions(ws, r.type, r.name)}>r${r.revision}</${Link}></td>
              </tr>`)}
          </tbody>
        </table>`}
    </main>`
}

// The manifest of each revision (secret values come masked from the API) and a diff between two.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { api, resourcePath } from '../api.js'
import { Link, ui } from '../router.js'
import { lineDiff } from '../diff.js'
import { toYaml } from '../yaml.js'

const text = (m) => toYaml(m)

export function Revisions({ ws, type, name }) {
  const [detail, setDetail] = useState(null)
  const [error, setError] = useState('')
  const [left, setLeft] = useState(null)
  const [right, setRight] = useState(null)
  const [manifests, setManifests] = useState({})
  const base = resourcePath(type.startsWith('instance-') ? null : ws, type, name)
  useEffect(() => {
    api(`${base}?revisions=true`).then((d) => {
      setDetail(d)
      const revs = (d.revisions ?? []).map((r) => r.revision)
      setRight(d.resource.revision)
      setLeft(revs.length > 1 ? revs.filter((r) => r < d.resource.revision).at(-1) ?? revs[0] : d.resource.revision)
      setManifests({ [d.resource.revision]: d.manifest })
    }, (e) => setError(e.message))
  }, [base])
  useEffect(() => {
    for (const r of [left, right]) {
      if (r === null || manifests[r] !== undefined) continue
      api(`${base}?revision=${r}`).then((d) => setManifests((m) => ({ ...m, [r]: d.manifest })), (e) => setError(e.message))
    }
  }, [left, right])
  if (error) return html`<main class="page"><p class="error" role="alert">${error}</p></main>`
  if (!detail) return html`<main class="page"><p aria-busy="true">Loading…</p></main>`
  const revs = detail.revisions ?? []
  const pick = (set) => (e) => set(Number(e.target.value))
  const l = manifests[left]
  const r = manifests[right]
  const diff = l !== undefined && r !== undefined && left !== right ? lineDiff(text(l), text(r)) : null
  return html`
    <main class="page revisions">
      <h1>${type === 'workflow' ? html`<${Link} href=${ui.workflow(ws, name)}>${name}</${Link}>` : name} <span class="muted">${type} · revisions</span></h1>
      <table class="grid compact" id="revisions">
        <thead><tr><th>REV</th><th>CREATED</th><th>BY</th><th>HASH</th></tr></thead>
        <tbody>${revs.map((v) => html`<tr key=${v.revision}><td>${v.revision}</td><td>${new Date(v.createdAt).toLocaleString()}</td><td>${v.createdBy}</td><td><code>${v.hash.slice(0, 12)}</code></td></tr>`)}</tbody>
      </table>
      <div class="filters">
        <label>From <select id="rev-left" value=${left} onChange=${pick(setLeft)}>${revs.map((v) => html`<option value=${v.revision}>r${v.revision}</option>`)}</select></label>
        <label>To <select id="rev-right" value=${right} onChange=${pick(setRight)}>${revs.map((v) => html`<option value=${v.revision}>r${v.revision}</option>`)}</select></label>
      </div>
      ${diff ? html`
        <h2>Diff r${left} → r${right}</h2>
        <pre class="diff" id="diff" tabindex="0">${diff.map((d) => html`<div class=${d.op === '+' ? 'add' : d.op === '-' ? 'del' : 'same'}>${d.op} ${d.text}</div>`)}</pre>`
      : html`
        <h2>Manifest r${right}</h2>
        <pre class="manifest" id="manifest" tabindex="0">${r === undefined ? '…' : text(r)}</pre>`}
    </main>`
}

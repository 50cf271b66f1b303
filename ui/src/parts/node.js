// One node of a run: its attempts, outputs, end reason, approval (with approve / reject where
// allowed) and its log.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { api, enc } from '../api.js'
import { duration } from '../model.js'
import { LogViewer } from './logs.js'
import { runAction } from './actions.js'

function Approval({ ws, name, runId, step, record, may, onDone }) {
  const [comment, setComment] = useState('')
  const [error, setError] = useState('')
  const a = record.approval
  if (!a) return null
  const decide = (decision) => async () => {
    setError('')
    // Not `onDone?.(await …)`: an optional call skips evaluating its arguments when onDone is absent.
    try { const res = await runAction(ws, name, decision, { step, runId, ...(comment.trim() ? { comment: comment.trim() } : {}) }); onDone?.(res) } catch (e) { setError(e.message) }
  }
  return html`
    <div class="approval">
      <p><strong>Approval</strong>${a.message ? `: ${a.message}` : ''}</p>
      <p class="muted">approvers: ${a.approvers.length ? a.approvers.join(', ') : 'whoever may run the workflow'} · requested ${a.requestedAt}${a.deadline ? ` · deadline ${a.deadline}` : ''}</p>
      ${a.decision && html`<p>${a.decision} by ${a.by ?? '—'}${a.comment ? `: ${a.comment}` : ''}</p>`}
      ${record.state === 'waiting' && may.approve && html`
        <div class="actions" role="toolbar" aria-label="approval">
          <input aria-label="comment" class="approval-comment" placeholder="comment" value=${comment} onInput=${(e) => setComment(e.target.value)} maxlength="1000" />
          <button class="primary" data-action="approve" onClick=${decide('approve')}>Approve</button>
          <button class="danger" data-action="reject" onClick=${decide('reject')}>Reject</button>
        </div>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </div>`
}

/** `record` is the node's latest attempt from the live run detail; attempts are fetched when it changes. */
export function NodePanel({ ws, name, runId, step, record, instances, may, onClose, onSelect }) {
  const [detail, setDetail] = useState(null)
  const [error, setError] = useState('')
  const stamp = record ? `${record.attempt}:${record.state}` : ''
  useEffect(() => {
    if (!record) { setDetail(null); return }
    api(`/api/v1/runs/${enc(runId)}/nodes/${enc(step)}`).then(setDetail, (e) => setError(e.message))
  }, [runId, step, stamp])
  const attempts = detail?.attempts ?? (record ? [record] : [])
  const latest = attempts.at(-1)
  return html`
    <aside class="panel" aria-label=${`step ${step}`} id="node-panel" data-step=${step}>
      <div class="panel-head">
        <h2>${step}</h2>
        <span class=${`badge state-${latest?.state ?? 'pending'}`} id="node-state">${latest?.state ?? 'not started'}</span>
        <span class="spacer" />
        <button class="ghost" onClick=${onClose} aria-label="close step panel">✕</button>
      </div>
      ${error && html`<p class="error">${error}</p>`}
      ${instances && html`
        <p class="muted">${instances.length} instances</p>
        <ul class="instances">${instances.map((i) => html`<li><button class="link" onClick=${() => onSelect(i.step)}><span class=${`dot state-${i.state}`} />${i.step}</button> <span class="muted">${i.state}</span></li>`)}</ul>`}
      ${latest && latest.state !== 'waiting' && (latest.reason || latest.message) && html`<p class="reason"><strong>${latest.reason ?? ''}</strong> ${latest.message ?? ''}</p>`}
      ${latest && html`<${Approval} ws=${ws} name=${name} runId=${runId} step=${step} record=${latest} may=${may} />`}
      ${attempts.length > 0 && html`
        <table class="grid compact">
          <thead><tr><th>#</th><th>STATE</th><th>EXIT</th><th>STARTED</th><th>DURATION</th><th>REASON</th></tr></thead>
          <tbody>${attempts.map((a) => html`<tr><td>${a.attempt}</td><td>${a.state}</td><td>${a.exitCode ?? ''}</td><td>${a.startedAt ? new Date(a.startedAt).toLocaleTimeString() : ''}</td><td>${duration(a.startedAt, a.finishedAt)}</td><td>${a.reason ?? ''}</td></tr>`)}</tbody>
        </table>`}
      ${latest?.outputs && Object.keys(latest.outputs).length > 0 && html`
        <h3>Outputs</h3>
        <table class="grid compact outputs"><tbody>${Object.entries(latest.outputs).map(([k, v]) => html`<tr><th>${k}</th><td><code>${v}</code></td></tr>`)}</tbody></table>`}
      ${detail?.description && html`<details><summary>Runtime</summary><pre>${JSON.stringify(detail.description, null, 2)}</pre></details>`}
      ${record && !instances && html`<${LogViewer} runId=${runId} step=${step} key=${`${runId}/${step}`} />`}
    </aside>`
}

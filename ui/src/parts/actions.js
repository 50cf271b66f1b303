// Run actions, each shown only where can-i allows it (the API refuses anyway), and the params form
// generated from the workflow's declared params.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { api, canI, resourcePath } from '../api.js'

/** The verbs a workflow page may offer, as can-i names them (suspend/resume are authorized as stop). */
export function usePermissions(ws, name) {
  const [may, setMay] = useState({})
  useEffect(() => {
    let live = true
    const verbs = ['run', 'stop', 'retry', 'approve']
    Promise.all(verbs.map((v) => canI(v, 'workflow', ws, name))).then((answers) => {
      if (live) setMay(Object.fromEntries(verbs.map((v, i) => [v, answers[i]])))
    })
    return () => { live = false }
  }, [ws, name])
  return may
}

export function runAction(ws, name, action, body) {
  return api(`${resourcePath(ws, 'workflow', name)}/runs${action === 'run' ? '' : `/${action}`}`, { method: 'POST', body: body ?? {} })
}

/** Stop / suspend / resume / retry for one run, by its state. */
export function RunActions({ ws, name, run, may, onDone }) {
  const [error, setError] = useState('')
  if (!run) return null
  const act = (action) => async () => {
    setError('')
    // Not `onDone?.(await …)`: an optional call skips evaluating its arguments when onDone is absent.
    try { const res = await runAction(ws, name, action, { runId: run.id }); onDone?.(res) } catch (e) { setError(e.message) }
  }
  const active = run.state === 'pending' || run.state === 'running' || run.state === 'suspended'
  const buttons = []
  if (may.stop && active) buttons.push(html`<button class="danger" data-action="stop" onClick=${act('stop')}>Stop</button>`)
  if (may.stop && (run.state === 'running' || run.state === 'pending')) buttons.push(html`<button data-action="suspend" onClick=${act('suspend')}>Suspend</button>`)
  if (may.stop && run.state === 'suspended') buttons.push(html`<button data-action="resume" onClick=${act('resume')}>Resume</button>`)
  if (may.retry && (run.state === 'failed' || run.state === 'cancelled' || run.state === 'killed')) buttons.push(html`<button data-action="retry" onClick=${act('retry')}>Retry</button>`)
  if (buttons.length === 0) return null
  return html`<div class="actions" role="toolbar" aria-label="run actions">${buttons}${error && html`<span class="error" role="alert">${error}</span>`}</div>`
}

function defaultText(p) {
  if (p.default === undefined) return ''
  return typeof p.default === 'string' ? p.default : JSON.stringify(p.default)
}

/** A value of the declared type from the form's text; throws naming the param on bad input. */
function valueOf(p, raw) {
  switch (p.type) {
    case 'integer': case 'number': {
      const n = Number(raw)
      if (raw.trim() === '' || !Number.isFinite(n) || (p.type === 'integer' && !Number.isInteger(n))) throw new Error(`param ${p.name}: not a${p.type === 'integer' ? 'n integer' : ' number'}: ${raw}`)
      return n
    }
    case 'boolean': return raw === 'true'
    case 'array': case 'object': {
      let v
      try { v = JSON.parse(raw) } catch { throw new Error(`param ${p.name}: not JSON: ${raw}`) }
      if (p.type === 'array' ? !Array.isArray(v) : (v === null || typeof v !== 'object' || Array.isArray(v))) throw new Error(`param ${p.name}: not a JSON ${p.type}`)
      return v
    }
    default: return raw
  }
}

/** The Run button and, when the workflow declares params, its form. */
export function RunForm({ ws, name, params, onStarted }) {
  const [open, setOpen] = useState(false)
  const [values, setValues] = useState({})
  const [error, setError] = useState('')
  const submit = async (e) => {
    e.preventDefault()
    setError('')
    try {
      const body = {}
      for (const p of params) {
        const raw = values[p.name]
        if (raw === undefined || raw === '') {
          if (p.required && p.default === undefined) throw new Error(`param ${p.name} is required`)
          continue
        }
        body[p.name] = valueOf(p, raw)
      }
      const res = await runAction(ws, name, 'run', params.length > 0 ? { params: body } : {})
      setOpen(false)
      onStarted?.(res)
    } catch (err) { setError(err.message) }
  }
  if (!open) return html`<button class="primary" data-action="run" onClick=${() => params.length > 0 ? setOpen(true) : submit(new Event('submit'))}>Run</button>${error && html`<span class="error" role="alert">${error}</span>`}`
  const set = (n) => (e) => setValues({ ...values, [n]: e.target.type === 'checkbox' ? String(e.target.checked) : e.target.value })
  return html`
    <form class="params-form" onSubmit=${submit} aria-label="run params">
      ${params.map((p) => {
        const id = `param-${p.name}`
        const v = values[p.name] ?? defaultText(p)
        let input
        if (Array.isArray(p.enum)) input = html`<select id=${id} name=${p.name} value=${v} onChange=${set(p.name)} required=${!!p.required}>${p.required && p.default === undefined ? html`<option value="">—</option>` : ''}${p.enum.map((o) => html`<option value=${typeof o === 'string' ? o : JSON.stringify(o)}>${String(o)}</option>`)}</select>`
        else if (p.type === 'boolean') input = html`<input id=${id} name=${p.name} type="checkbox" checked=${v === 'true'} onChange=${set(p.name)} />`
        else if (p.type === 'integer' || p.type === 'number') input = html`<input id=${id} name=${p.name} type="number" step=${p.type === 'integer' ? '1' : 'any'} value=${v} onInput=${set(p.name)} required=${!!p.required} />`
        else if (p.type === 'array' || p.type === 'object') input = html`<textarea id=${id} name=${p.name} rows="2" onInput=${set(p.name)} required=${!!p.required} maxlength="65536">${v}</textarea>`
        else input = html`<input id=${id} name=${p.name} type=${p.secret ? 'password' : 'text'} value=${v} onInput=${set(p.name)} required=${!!p.required} maxlength="65536" />`
        return html`<div class="field"><label for=${id}>${p.name}${p.required ? ' *' : ''} <span class="muted">${p.type ?? 'string'}</span></label>${input}${p.description && html`<small class="muted">${p.description}</small>`}</div>`
      })}
      <div class="actions"><button type="submit" class="primary" data-action="run-submit">Start run</button><button type="button" onClick=${() => setOpen(false)}>Cancel</button></div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>`
}

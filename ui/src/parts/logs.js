// A run's (or one step's) log, following live: the logs route with follow=true, read with fetch as
// NDJSON. Lines are shown exactly as the API sends them, `[redacted]` included: redaction happened on
// the server and there is nothing here to undo it.
import { html } from 'htm/preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { streamNdjson, enc } from '../api.js'

/** Most lines kept in the page; older ones drop off the top (the CLI has the whole log). */
const MAX_LINES = 20_000

export function LogViewer({ runId, step }) {
  const [lines, setLines] = useState([])
  const [status, setStatus] = useState('following')
  const [query, setQuery] = useState('')
  const [follow, setFollow] = useState(true)
  const box = useRef(null)
  useEffect(() => {
    const ctl = new AbortController()
    const buf = []
    let ctx = ''
    let pending = false
    setLines([])
    setStatus('following')
    // Lines are batched per animation frame: a chatty step must not re-render the page per line.
    const flush = () => {
      pending = false
      if (buf.length > MAX_LINES) buf.splice(0, buf.length - MAX_LINES)
      setLines([...buf])
    }
    const q = new URLSearchParams({ follow: 'true' })
    if (step) q.set('step', step)
    streamNdjson(`/api/v1/runs/${enc(runId)}/logs?${q}`, (line) => {
      if (Array.isArray(line)) {
        const [seq, time, stream, text] = line
        buf.push({ key: `${ctx}#${seq}`, ctx, time, stream, text })
        if (!pending) { pending = true; requestAnimationFrame(flush) }
      } else if (line && typeof line === 'object') {
        ctx = `${line.step}#${line.attempt}`
      }
    }, ctl.signal).then(() => { flush(); setStatus('ended') }, (err) => { if (err.name !== 'AbortError') setStatus(`error: ${err.message}`) })
    return () => ctl.abort()
  }, [runId, step])
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight
  }, [lines, follow])
  const needle = query.toLowerCase()
  const shown = needle ? lines.filter((l) => l.text.toLowerCase().includes(needle)) : lines
  const many = new Set(lines.map((l) => l.ctx)).size > 1
  return html`
    <section class="logs" aria-label=${`log of ${step ?? 'run'}`}>
      <div class="logbar">
        <strong>Log${step ? ` · ${step}` : ''}</strong>
        <span class=${`muted log-status`} data-status=${status}>${status}</span>
        <span class="spacer" />
        <label>Search <input type="search" class="log-search" value=${query} onInput=${(e) => setQuery(e.target.value)} maxlength="200" /></label>
        <label><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.target.checked)} /> follow</label>
        ${needle && html`<span class="muted">${shown.length} of ${lines.length}</span>`}
      </div>
      <pre class="loglines" ref=${box} tabindex="0">${shown.map((l) => html`<div key=${l.key} class=${`line ${l.stream}`}>${many ? html`<span class="ctx">${l.ctx} </span>` : ''}${mark(l.text, needle)}</div>`)}</pre>
    </section>`
}

function mark(text, needle) {
  if (!needle) return text
  const out = []
  const low = text.toLowerCase()
  let at = 0
  for (let i = low.indexOf(needle); i >= 0; i = low.indexOf(needle, at)) {
    out.push(text.slice(at, i), html`<mark>${text.slice(i, i + needle.length)}</mark>`)
    at = i + needle.length
  }
  out.push(text.slice(at))
  return out
}

// The console's one door to the control plane: same-origin fetches carrying the session cookie,
// the CSRF header on every state-changing call, NDJSON streams read with fetch, and SSE for live
// state. Names that belong to the server side (session, CSRF, stream URLs) live here only.
export const CSRF_HEADER = 'x-csrf-token'

// Kept in memory only (a reload asks GET /api/v1/session again): a script cannot read it from storage.
let csrf = ''

export function rememberSession(body) {
  if (body && typeof body.csrfToken === 'string') csrf = body.csrfToken
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

async function errorOf(res) {
  let code = `HTTP_${res.status}`
  let message = res.statusText
  try {
    const body = await res.json()
    code = body.code ?? body.error?.code ?? code
    message = body.message ?? body.error?.message ?? message
  } catch { /* not JSON */ }
  return new ApiError(res.status, code, message)
}

/** A JSON call; state-changing methods carry the CSRF header. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && method !== 'HEAD') headers[CSRF_HEADER] = csrf
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal })
  if (res.status === 401 && !path.startsWith('/api/v1/session')) onUnauthenticated()
  if (!res.ok) throw await errorOf(res)
  const text = await res.text()
  return text === '' ? {} : JSON.parse(text)
}

let unauthenticated = () => {}
export function whenUnauthenticated(fn) { unauthenticated = fn }
function onUnauthenticated() { unauthenticated() }

export async function signIn(apiKey) {
  const body = await api('/api/v1/session', { method: 'POST', body: { apiKey } })
  rememberSession(body)
  return body
}

export async function signInWithCode(code) {
  const body = await api('/api/v1/session', { method: 'POST', body: { code } })
  rememberSession(body)
  return body
}

export async function signOut() {
  try { await api('/api/v1/session', { method: 'DELETE' }) } finally { csrf = '' }
}

/** The signed-in user (and the CSRF token back after a reload), or null when not signed in. */
export async function currentSession() {
  try {
    const body = await api('/api/v1/session')
    rememberSession(body)
    return body
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null
    throw err
  }
}

/** Each parsed line of an NDJSON response, as it arrives; ends when the server ends it or `signal` aborts. */
export async function streamNdjson(path, onLine, signal) {
  const res = await fetch(path, { headers: { accept: 'application/x-ndjson' }, credentials: 'same-origin', signal })
  if (!res.ok) throw await errorOf(res)
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buf = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buf += value
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (line.trim() !== '') onLine(JSON.parse(line))
    }
  }
  if (buf.trim() !== '') onLine(JSON.parse(buf))
}

/** An SSE stream: `onEvent(name, data)` per event; returns a closer. The browser reconnects on its own. */
export function subscribe(path, onEvent) {
  const es = new EventSource(path, { withCredentials: true })
  const seen = new Set()
  const handler = (name) => (e) => {
    let data
    try { data = JSON.parse(e.data) } catch { data = e.data }
    onEvent(name, data)
  }
  es.onmessage = handler('message')
  const listen = (name) => { if (!seen.has(name)) { seen.add(name); es.addEventListener(name, handler(name)) } }
  for (const n of ['run', 'runs', 'end']) listen(n)
  return { close: () => es.close(), listen, source: es }
}

const canICache = new Map()
/** Whether the signed-in user may VERB; asked once per (verb, target) and kept for the page's life. */
export function canI(verb, type, workspace, name) {
  const key = JSON.stringify([verb, type, workspace, name])
  if (!canICache.has(key)) {
    const body = { verb, type, ...(workspace ? { workspace } : {}), ...(name ? { name } : {}) }
    canICache.set(key, api('/api/v1/auth/can-i', { method: 'POST', body }).then((r) => r.allowed === true, () => false))
  }
  return canICache.get(key)
}
export function forgetPermissions() { canICache.clear() }

export const enc = encodeURIComponent
export function resourcePath(ws, type, name) {
  return ws ? `/api/v1/workspaces/${enc(ws)}/resources/${enc(type)}/${enc(name)}` : `/api/v1/instance/resources/${enc(type)}/${enc(name)}`
}

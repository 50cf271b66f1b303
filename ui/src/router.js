// Path routes under /ui/ (the server answers index.html for any extension-less path there).
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'

function parse() {
  const rest = location.pathname.replace(/^\/ui\/?/, '')
  return { parts: rest.split('/').filter((s) => s !== '').map(decodeURIComponent), query: new URLSearchParams(location.search) }
}

const listeners = new Set()
export function navigate(href, replace = false) {
  if (replace) history.replaceState(null, '', href)
  else history.pushState(null, '', href)
  for (const l of listeners) l()
}
addEventListener('popstate', () => { for (const l of listeners) l() })

export function useRoute() {
  const [route, setRoute] = useState(parse())
  useEffect(() => {
    const l = () => setRoute(parse())
    listeners.add(l)
    return () => listeners.delete(l)
  }, [])
  return route
}

/** An <a> that routes in the page (a modified click still opens a new tab). */
export function Link({ href, children, ...rest }) {
  const click = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(href)
  }
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`
}

export const ui = {
  workspace: (ws) => `/ui/w/${encodeURIComponent(ws)}`,
  workflow: (ws, name) => `/ui/w/${encodeURIComponent(ws)}/${encodeURIComponent(name)}`,
  run: (id) => `/ui/runs/${encodeURIComponent(id)}`,
  revisions: (ws, type, name) => `/ui/w/${encodeURIComponent(ws)}/${encodeURIComponent(type)}/${encodeURIComponent(name)}/revisions`,
}

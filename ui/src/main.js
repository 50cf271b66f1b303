// The console's shell: session check, path routes under /ui/, the header with the theme toggle.
import { render } from 'preact'
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { currentSession, signOut, whenUnauthenticated, forgetPermissions } from './api.js'
import { navigate, useRoute, Link } from './router.js'
import { SignIn } from './pages/signin.js'
import { Resources } from './pages/resources.js'
import { Workflow } from './pages/workflow.js'
import { RunPage } from './pages/run.js'
import { Revisions } from './pages/revisions.js'

const THEME_KEY = 'ctl.theme'

function initialTheme() {
  let saved = null
  try { saved = localStorage.getItem(THEME_KEY) } catch { /* storage off */ }
  return saved === 'light' || saved === 'dark' ? saved : null
}

/** null: follow prefers-color-scheme; 'light'/'dark': the user's choice, kept. */
function ThemeToggle() {
  const [theme, setTheme] = useState(initialTheme())
  const [, setSystem] = useState(0)
  useEffect(() => {
    // The label follows the system's scheme while no choice is made.
    const mq = matchMedia('(prefers-color-scheme: dark)')
    const changed = () => setSystem((n) => n + 1)
    mq.addEventListener('change', changed)
    return () => mq.removeEventListener('change', changed)
  }, [])
  useEffect(() => {
    if (theme) document.documentElement.dataset.theme = theme
    else delete document.documentElement.dataset.theme
  }, [theme])
  const dark = theme ? theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches
  const flip = () => {
    const next = dark ? 'light' : 'dark'
    try { localStorage.setItem(THEME_KEY, next) } catch { /* storage off */ }
    setTheme(next)
  }
  return html`<button class="ghost" id="theme-toggle" onClick=${flip} aria-label=${dark ? 'switch to light theme' : 'switch to dark theme'}>${dark ? '☀ light' : '☾ dark'}</button>`
}

function Page({ route, user }) {
  const p = route.parts
  if (p[0] === 'w' && p.length === 2) return html`<${Resources} ws=${p[1]} />`
  if (p[0] === 'w' && p.length === 3) return html`<${Workflow} ws=${p[1]} name=${p[2]} key=${`${p[1]}/${p[2]}`} />`
  if (p[0] === 'w' && p.length === 5 && p[4] === 'revisions') return html`<${Revisions} ws=${p[1]} type=${p[2]} name=${p[3]} />`
  if (p[0] === 'runs' && p.length === 2) return html`<${RunPage} id=${p[1]} key=${p[1]} />`
  if (p.length === 0) return html`<${Resources} ws="public" />`
  return html`<main class="page"><h1>Not found</h1><p>No page at ${location.pathname}. <${Link} href="/ui/">Resources</${Link}></p></main>`
}

function App() {
  const route = useRoute()
  const [session, setSession] = useState(undefined)
  useEffect(() => {
    whenUnauthenticated(() => { setSession(null); forgetPermissions() })
    if (route.parts[0] !== 'signin') currentSession().then(setSession, () => setSession(null))
  }, [])
  if (route.parts[0] === 'signin' || session === null) {
    return html`<${SignIn} onSignedIn=${(s) => { forgetPermissions(); setSession(s); if (route.parts[0] === 'signin') navigate('/ui/') }} />`
  }
  if (session === undefined) return html`<p class="loading" aria-busy="true">Loading…</p>`
  const out = async () => { await signOut().catch(() => {}); forgetPermissions(); setSession(null) }
  return html`
    <header class="top">
      <${Link} href="/ui/" class="brand">ctl</${Link}>
      <nav aria-label="main"><${Link} href="/ui/">Resources</${Link}></nav>
      <span class="spacer" />
      <span class="user" id="user">${session.user?.name ?? session.user?.id}</span>
      <${ThemeToggle} />
      <button class="ghost" onClick=${out}>Sign out</button>
    </header>
    <${Page} route=${route} user=${session.user} />`
}

render(html`<${App} />`, document.getElementById('app'))

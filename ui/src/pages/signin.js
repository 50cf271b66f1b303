// Sign-in: an API key typed in, or the one-time code of a `ctl ui` link (/ui/signin#code=…).
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { signIn, signInWithCode } from '../api.js'

export function SignIn({ onSignedIn }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  useEffect(() => {
    const m = location.hash.match(/(?:^#|&)code=([^&]+)/)
    if (!m) return
    // The code leaves the address bar (and history) before it is used: it is a credential.
    history.replaceState(null, '', '/ui/signin')
    setBusy(true)
    signInWithCode(decodeURIComponent(m[1])).then(onSignedIn, (err) => { setError(err.message); setBusy(false) })
  }, [])
  const submit = async (e) => {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      onSignedIn(await signIn(key.trim()))
    } catch (err) {
      setError(err.message)
      setBusy(false)
    }
  }
  return html`
    <main class="signin">
      <form onSubmit=${submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to ctl</h1>
        <label for="apikey">API key</label>
        <input id="apikey" name="apikey" type="password" autocomplete="off" placeholder="ctl_…" value=${key}
               onInput=${(e) => setKey(e.target.value)} required maxlength="200" autofocus />
        <button type="submit" class="primary" disabled=${busy || key.trim() === ''}>Sign in</button>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <p class="hint">Or run <code>ctl ui</code> for a one-time sign-in link.</p>
      </form>
    </main>`
}

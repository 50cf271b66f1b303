// `ctl login` / `ctl logout`: check an API key against the control plane (whoami) before
// storing it — in the OS keychain, or the 0600 file when no keychain answers.
import { join } from 'node:path'
import type { ReadStream } from 'node:tty'
import { CtlClient } from '../../client/client.js'
import { CtlError } from '../../errors.js'
import { LOCAL_CONTEXT, currentContext, readConfig, writeConfig, type ContextEntry } from '../config.js'
import { serverUrl } from '../connect.js'
import { FileCredentialStore, credentialsFile, openCredentialStore } from '../credentials.js'
import type { Io } from '../io.js'
import { printReport, type OutputFormat } from '../output.js'
import { readStdin } from './files.js'
import { describePrincipal } from './identity-format.js'

export interface LoginFlags {
  server?: string
  apikey?: string
  context?: string
  workspace?: string
}

export interface LoginOptions {
  /** The context to log in to; `isNew` when --server named a control plane no context has yet. */
  context: ContextEntry
  isNew: boolean
  apiKey: string
}

/** Where a key comes from when --apikey is not given: a hidden prompt on a terminal. */
export type AskSecret = (question: string) => Promise<string>

export async function completeLogin(flags: LoginFlags, env: NodeJS.ProcessEnv, ask: AskSecret | undefined, stdin: () => Promise<string> = readStdin): Promise<LoginOptions> {
  const { context, isNew } = resolveLoginContext(flags, env)
  let apiKey: string
  if (flags.apikey === '-') apiKey = await stdin()
  else if (flags.apikey !== undefined) apiKey = flags.apikey
  else if (ask) apiKey = await ask(`API key for ${context.server === 'local' ? 'the embedded control plane' : context.server}: `)
  else throw new CtlError('E_USAGE', 'no terminal to ask for the API key on: give --apikey KEY (or --apikey - to read it from standard input)')
  return { context, isNew, apiKey: apiKey.trim() }
}

export function validateLogin(o: LoginOptions): void {
  if (o.apiKey === '') throw new CtlError('E_USAGE', 'the API key is empty')
  if (/\s/.test(o.apiKey)) throw new CtlError('E_USAGE', 'the API key holds white space; paste it exactly as `ctl user apikey create` printed it')
}

/** --server URL picks the context that names it (or a new one); otherwise --context or the current one. */
function resolveLoginContext(flags: LoginFlags, env: NodeJS.ProcessEnv): { context: ContextEntry; isNew: boolean } {
  const config = readConfig(env)
  if (flags.server === undefined) {
    const context = currentContext(config, flags.context)
    return { context: flags.workspace ? { ...context, workspace: flags.workspace } : context, isNew: false }
  }
  const server = flags.server === 'local' ? 'local' : normalizeServer(flags.server)
  const named = flags.context ? config.contexts.find((c) => c.name === flags.context) : undefined
  if (named && named.server !== server) {
    throw new CtlError('E_USAGE', `context "${named.name}" points at ${named.server}, not ${server}; pick another --context name`)
  }
  const existing = named ?? config.contexts.find((c) => c.server === server)
  if (existing) return { context: flags.workspace ? { ...existing, workspace: flags.workspace } : existing, isNew: false }
  const name = flags.context ?? (server === 'local' ? LOCAL_CONTEXT : new URL(server).host.replace(/:/g, '-').toLowerCase())
  if (!/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/i.test(name)) throw new CtlError('E_USAGE', `context name "${name}" is not valid`)
  return { context: { name, server, workspace: flags.workspace ?? 'public' }, isNew: true }
}

function normalizeServer(server: string): string {
  let url: URL
  try {
    url = new URL(server)
  } catch {
    throw new CtlError('E_USAGE', `server "${server}" is not a URL (for example http://ctl.example.com:7419)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CtlError('E_USAGE', `server "${server}" must be http:// or https://`)
  return url.toString().replace(/\/$/, '')
}

export async function runLogin(o: LoginOptions, io: Io, cliRoot: string, output: OutputFormat = 'table', env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const baseUrl = await serverUrl(o.context, { env, io, cliEntry: join(cliRoot, 'bin', 'run.js') })
  // A key that does not work is never stored: whoami answers 401 for it (exit 4).
  const principal = await new CtlClient({ baseUrl, apiKey: o.apiKey }).whoami()
  const store = await openCredentialStore({ env, warn: (line) => io.err(line) })
  await store.set(o.context.name, o.apiKey)
  // A stale copy in the file would shadow nothing, but must not outlive a newer login.
  if (store.kind === 'keychain') await new FileCredentialStore(credentialsFile(env)).delete(o.context.name)
  const config = readConfig(env)
  const contexts = config.contexts.filter((c) => c.name !== o.context.name)
  contexts.push(o.context)
  writeConfig({ currentContext: o.context.name, contexts }, env)
  const where = o.context.server === 'local' ? 'the embedded control plane' : o.context.server
  printReport(io, output, { context: o.context, principal, storedIn: store.location }, () => {
    io.out(`logged in to ${where} (context "${o.context.name}") as ${describePrincipal(principal)}`)
    io.out(`API key stored in ${store.location}`)
  })
  if (env.CTL_APIKEY && env.CTL_APIKEY.trim() !== '') io.err('note: CTL_APIKEY is set and overrides the stored key while it stays set')
}

export interface LogoutOptions {
  context: ContextEntry
}

export function completeLogout(flags: { context?: string }, env: NodeJS.ProcessEnv): LogoutOptions {
  return { context: currentContext(readConfig(env), flags.context) }
}

export async function runLogout(o: LogoutOptions, io: Io, output: OutputFormat = 'table', env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const name = o.context.name
  const removed: string[] = []
  // Both places: a key stored in the file while no keychain answered must go too.
  const store = await openCredentialStore({ env })
  if (await store.delete(name)) removed.push(store.location)
  if (store.kind === 'keychain') {
    const file = new FileCredentialStore(credentialsFile(env))
    if (await file.delete(name)) removed.push(file.location)
  }
  printReport(io, output, { context: name, removedFrom: removed }, () =>
    io.out(removed.length > 0 ? `logged out of context "${name}": removed its API key from ${removed.join(' and ')}` : `no API key was stored for context "${name}"`))
  if (env.CTL_APIKEY && env.CTL_APIKEY.trim() !== '') io.err('note: CTL_APIKEY is set and still authenticates')
  else if (o.context.server === 'local') io.err('note: the local context falls back to the embedded control plane\'s admin key')
}

/** What askHidden needs of a terminal: standard input when it is one. */
export type HiddenInput = Pick<ReadStream, 'setRawMode' | 'setEncoding' | 'resume' | 'pause' | 'on' | 'off'>

/**
 * Reads a line without echoing it. Echo goes off (raw mode) BEFORE the prompt is written, so that
 * nothing typed as soon as the prompt shows is echoed; it is restored on every way out: Enter,
 * Ctrl-C, Ctrl-D, the end of input, a read error and the process exiting meanwhile.
 */
export function askHidden(input: HiddenInput, write: (text: string) => unknown, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = ''
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      input.off('data', onData)
      input.off('end', onEnd)
      input.off('close', onEnd)
      input.off('error', onError)
      process.off('exit', restore)
      restore()
      input.pause()
      write('\n')
    }
    const restore = (): void => {
      input.setRawMode(false)
    }
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish()
          return resolve(value)
        }
        // In raw mode Ctrl-C is a byte, not a SIGINT.
        if (ch === '\u0003' || ch === '\u0004') {
          finish()
          return reject(new CtlError('E_USAGE', 'login cancelled'))
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else value += ch
      }
    }
    const onEnd = (): void => {
      finish()
      reject(new CtlError('E_USAGE', 'login cancelled: the terminal closed'))
    }
    const onError = (err: Error): void => {
      finish()
      reject(new CtlError('E_USAGE', `cannot read the API key from the terminal: ${err.message}`))
    }
    input.setEncoding('utf8')
    input.setRawMode(true)
    // A process that exits while asking (a signal handler, process.exit elsewhere) leaves the terminal echoing.
    process.once('exit', restore)
    input.on('data', onData)
    input.on('end', onEnd)
    input.on('close', onEnd)
    input.on('error', onError)
    write(question)
    input.resume()
  })
}

/** Reads a line from the terminal without echoing it; undefined when standard input is no terminal. */
export function terminalAsk(): AskSecret | undefined {
  const stdin = process.stdin
  if (!stdin.isTTY || typeof stdin.setRawMode !== 'function') return undefined
  return (question) => askHidden(stdin, (text) => process.stderr.write(text), question)
}

// Finding the control plane: the context names it, CTL_APIKEY or the stored
// credentials (OS keychain, else the 0600 file) authenticate, and for the default local context a control plane
// that is not running yet is started in the background (the embedded default).
// The embedded control plane's helpers (server/process.js, node:net) are imported only for
// the local context: a command talking to a remote control plane does not load them.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CtlClient } from '../client/client.js'
import { CtlError } from '../errors.js'
import { currentContext, isLocalContext, readConfig, type ContextEntry } from './config.js'
import { localServerDir } from '../home.js'
import { storedApiKey, type CredentialStore } from './credentials.js'
import type { Io } from './io.js'

export const DEFAULT_LOCAL_PORT = 7419

export interface ConnectOptions {
  context?: string
  env: NodeJS.ProcessEnv
  io: Io
  /** Path of bin/run.js, to start the embedded control plane. */
  cliEntry: string
  /** Where stored keys are read; default: openCredentialStore (keychain, else the file). */
  credentials?: CredentialStore
  /** Use exactly this key (ctl login checks a key before storing it). */
  apiKey?: string
  /** Default true: start the embedded control plane when it is not running. */
  autoStart?: boolean
}

export interface Connection {
  client: CtlClient
  context: ContextEntry
  /** The context's default workspace. */
  workspace: string
}

/**
 * CTL_SERVER names a control plane without any context (what every step gets, so a ctl inside it talks to the
 * control plane that runs it; its key comes from CTL_APIKEY). Its workspace is CTL_WORKSPACE (the step's), else public.
 * An explicit --context wins.
 */
export function environmentContext(env: NodeJS.ProcessEnv): ContextEntry | undefined {
  const server = env.CTL_SERVER?.trim()
  if (!server) return undefined
  return { name: 'CTL_SERVER', server: server.replace(/\/+$/, ''), workspace: env.CTL_WORKSPACE?.trim() || 'public' }
}

export async function connect(opts: ConnectOptions): Promise<Connection> {
  const context = (opts.context === undefined ? environmentContext(opts.env) : undefined) ?? currentContext(readConfig(opts.env), opts.context)
  const baseUrl = await serverUrl(context, opts)
  const apiKey = opts.apiKey ?? (await apiKeyFor(context, opts))
  return { client: new CtlClient({ baseUrl, apiKey }), context, workspace: context.workspace }
}

/** The context's control plane URL; for the local context, starting it when allowed. */
export async function serverUrl(context: ContextEntry, opts: ConnectOptions): Promise<string> {
  return isLocalContext(context) ? localServerUrl(opts) : context.server
}

async function localServerUrl(opts: ConnectOptions): Promise<string> {
  const { serverStatus, spawnDetachedServer } = await import('../controlplane/process.js')
  const dataDir = localServerDir(opts.env)
  const status = await serverStatus(dataDir)
  if (status.running && status.url) return status.url
  if (opts.env.CTL_RUN_ID) {
    // Inside a step: an embedded control plane started here would be a stranger, not the one running the step.
    throw new CtlError('E_UNAVAILABLE', 'inside a step ctl reaches the control plane through CTL_SERVER, which this one does not give its steps (start it with --advertise-url URL)')
  }
  if (opts.autoStart === false) {
    throw new CtlError('E_UNAVAILABLE', `the embedded control plane is not running (start it with: ctl server start --detach)`)
  }
  const wanted = opts.env.CTL_PORT !== undefined ? Number(opts.env.CTL_PORT) : DEFAULT_LOCAL_PORT
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) throw new CtlError('E_USAGE', `CTL_PORT "${opts.env.CTL_PORT}" is not a port number`)
  const port = wanted === 0 || (await portIsFree(wanted)) ? wanted : 0
  const started = await spawnDetachedServer({ dataDir, port, cliEntry: opts.cliEntry })
  opts.io.err(`started the embedded control plane at ${started.url} (data in ${dataDir}; stop it with: ctl server stop)`)
  for (const line of started.notices) opts.io.err(line)
  return started.url
}

async function portIsFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve(true)))
  })
}

async function apiKeyFor(context: ContextEntry, opts: ConnectOptions): Promise<string | undefined> {
  const fromEnv = opts.env.CTL_APIKEY
  if (fromEnv && fromEnv.trim() !== '') return fromEnv.trim()
  const stored = opts.credentials ? await opts.credentials.get(context.name) : await storedApiKey(context.name, opts.env)
  if (stored) return stored
  if (isLocalContext(context)) {
    // The embedded control plane writes its first admin key here (mode 0600).
    const file = join(localServerDir(opts.env), (await import('../controlplane/process.js')).ADMIN_KEY_FILE)
    if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  }
  return undefined
}

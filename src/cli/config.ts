// Contexts, like a kubeconfig: $CTL_HOME/config.yaml names control planes and
// the default workspace for each. The `local` context is the embedded default:
// its address comes from the running embedded server, not from the file.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { yaml } from './lazy-yaml.js'
import { CtlError } from '../errors.js'
import { ctlHome } from '../home.js'

export const LOCAL_CONTEXT = 'local'

export interface ContextEntry {
  name: string
  /** URL of the control plane; `local` for the embedded one under $CTL_HOME/server. */
  server: string
  workspace: string
}

export interface CtlConfig {
  currentContext: string
  contexts: ContextEntry[]
}

function configPath(env: NodeJS.ProcessEnv): string {
  return join(ctlHome(env), 'config.yaml')
}

function defaultConfig(): CtlConfig {
  return { currentContext: LOCAL_CONTEXT, contexts: [{ name: LOCAL_CONTEXT, server: 'local', workspace: 'public' }] }
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): CtlConfig {
  const file = configPath(env)
  if (!existsSync(file)) return defaultConfig()
  let parsed: unknown
  try {
    const text = readFileSync(file, 'utf8')
    // YAML is a superset of JSON: a JSON file parses without loading the YAML parser.
    parsed = text.trimStart().startsWith('{') ? parseJsonOr(text, () => yaml().parse(text)) : yaml().parse(text)
  } catch (error) {
    throw new CtlError('E_USAGE', `${file}: not valid YAML: ${(error as Error).message}`)
  }
  const value = (parsed ?? {}) as Partial<CtlConfig>
  const contexts = Array.isArray(value.contexts) ? value.contexts.filter(isContext) : []
  if (!contexts.some((c) => c.name === LOCAL_CONTEXT)) contexts.unshift(defaultConfig().contexts[0]!)
  const currentContext = typeof value.currentContext === 'string' ? value.currentContext : LOCAL_CONTEXT
  return { currentContext, contexts }
}

function parseJsonOr(text: string, fallback: () => unknown): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return fallback()
  }
}

function isContext(value: unknown): value is ContextEntry {
  const v = value as ContextEntry
  return typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.server === 'string' && typeof v.workspace === 'string'
}

export function writeConfig(config: CtlConfig, env: NodeJS.ProcessEnv = process.env): void {
  const file = configPath(env)
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, yaml().stringify(config), { mode: 0o600 })
  renameSync(tmp, file)
  chmodSync(file, 0o600)
}

export function currentContext(config: CtlConfig, override?: string): ContextEntry {
  const name = override ?? config.currentContext
  const found = config.contexts.find((c) => c.name === name)
  if (!found) {
    throw new CtlError('E_NOT_FOUND', `context "${name}" does not exist; known: ${config.contexts.map((c) => c.name).join(', ')}`)
  }
  return found
}

export function isLocalContext(context: ContextEntry): boolean {
  return context.server === 'local'
}

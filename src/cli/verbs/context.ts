// `ctl context list|select|add|delete`: kubeconfig-like contexts.
import { CtlError } from '../../errors.js'
import { LOCAL_CONTEXT, readConfig, writeConfig, type ContextEntry } from '../config.js'
import type { Io } from '../io.js'
import { printReport, renderTable, toJson, toYaml, type OutputFormat } from '../output.js'

export function listContexts(io: Io, output: OutputFormat, env: NodeJS.ProcessEnv = process.env): void {
  const config = readConfig(env)
  if (output === 'json') return io.out(toJson(config))
  if (output === 'yaml') return io.out(toYaml(config))
  io.out(
    renderTable(
      ['CURRENT', 'NAME', 'SERVER', 'WORKSPACE'],
      config.contexts.map((c) => [c.name === config.currentContext ? '*' : '', c.name, c.server === 'local' ? 'local (embedded)' : c.server, c.workspace]),
    ),
  )
}

export function selectContext(name: string, io: Io, output: OutputFormat = 'table', env: NodeJS.ProcessEnv = process.env): void {
  const config = readConfig(env)
  if (!config.contexts.some((c) => c.name === name)) {
    throw new CtlError('E_NOT_FOUND', `context "${name}" does not exist; known: ${config.contexts.map((c) => c.name).join(', ')}`)
  }
  writeConfig({ ...config, currentContext: name }, env)
  printReport(io, output, { currentContext: name }, () => io.out(`switched to context "${name}"`))
}

export function addContext(entry: ContextEntry, select: boolean, io: Io, output: OutputFormat = 'table', env: NodeJS.ProcessEnv = process.env): void {
  if (!/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/i.test(entry.name)) throw new CtlError('E_USAGE', `context name "${entry.name}" is not valid`)
  if (entry.server !== 'local') {
    let url: URL
    try {
      url = new URL(entry.server)
    } catch {
      throw new CtlError('E_USAGE', `server "${entry.server}" is not a URL (for example http://ctl.example.com:7419)`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CtlError('E_USAGE', `server "${entry.server}" must be http:// or https://`)
    entry = { ...entry, server: url.toString().replace(/\/$/, '') }
  }
  const config = readConfig(env)
  const contexts = config.contexts.filter((c) => c.name !== entry.name)
  contexts.push(entry)
  writeConfig({ currentContext: select ? entry.name : config.currentContext, contexts }, env)
  const added = config.contexts.length !== contexts.length
  printReport(io, output, { context: entry, added, selected: select }, () =>
    io.out(`context "${entry.name}" ${added ? 'added' : 'updated'}${select ? ' and selected' : ''}`))
}

export function deleteContext(name: string, io: Io, output: OutputFormat = 'table', env: NodeJS.ProcessEnv = process.env): void {
  if (name === LOCAL_CONTEXT) throw new CtlError('E_USAGE', 'the local context is built in and cannot be deleted')
  const config = readConfig(env)
  if (!config.contexts.some((c) => c.name === name)) throw new CtlError('E_NOT_FOUND', `context "${name}" does not exist`)
  const currentContext = config.currentContext === name ? LOCAL_CONTEXT : config.currentContext
  writeConfig({ currentContext, contexts: config.contexts.filter((c) => c.name !== name) }, env)
  printReport(io, output, { deleted: name, currentContext }, () =>
    io.out(`context "${name}" deleted${currentContext !== config.currentContext ? '; current context is now "local"' : ''}`))
}

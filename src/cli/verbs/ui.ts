// `ctl ui`: a one-time sign-in URL to the web console for the current context, printed (and with --open
// handed to the desktop's opener). The code is made by the control plane for this CLI's key, valid 60 s and
// once; it sits in the URL's fragment, which browsers never send to a server or put in a Referer.
import { spawn } from 'node:child_process'
import type { Connection } from '../connect.js'
import type { Io } from '../io.js'
import { printReport, type OutputFormat } from '../output.js'

export interface UiOptions {
  open: boolean
  output: OutputFormat
}

export interface UiReport {
  context: string
  url: string
  expiresAt: string
  /** With --open: whether a browser opener started. */
  opened?: boolean
}

/** The desktop's URL opener on this platform (none known: undefined). */
export function openerCommand(platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform === 'darwin') return 'open'
  if (platform === 'linux' || platform === 'freebsd' || platform === 'openbsd') return 'xdg-open'
  return undefined
}

/** Starts `command url` detached (no shell: the URL is one argument); false when it cannot start (not installed). */
export function openUrl(url: string, command = openerCommand(), env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (command === undefined) return Promise.resolve(false)
  return new Promise((resolve) => {
    const child = spawn(command, [url], { detached: true, stdio: 'ignore', env })
    child.once('error', () => resolve(false))
    child.once('spawn', () => {
      child.unref()
      resolve(true)
    })
  })
}

export async function runUi(conn: Connection, options: UiOptions, io: Io, opener: (url: string) => Promise<boolean> = (u) => openUrl(u)): Promise<UiReport> {
  const link = await conn.client.signInLink()
  // The address this CLI reached the control plane at (a local context's embedded server included).
  const url = `${conn.client.baseUrl}/ui/signin#code=${link.code}`
  const report: UiReport = { context: conn.context.name, url, expiresAt: link.expiresAt }
  if (options.open) report.opened = await opener(url)
  printReport(io, options.output, report, () => io.out(url))
  if (options.open && !report.opened) io.err(`no browser opener (${openerCommand() ?? 'none for this platform'}) could be started: open the URL above yourself`)
  if (options.output === 'table') io.err(`sign-in URL for context ${report.context}: valid once, until ${report.expiresAt}`)
  return report
}

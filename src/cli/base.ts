// The base of every command: maps typed errors to one-line messages and the
// exit codes of DESIGN.md, so no user mistake ever ends in a stack trace.
import { Command, Errors, Flags } from './oclif.js'
import { CtlError, ExitCode, ManifestError, formatIssue } from '../errors.js'
import { processIo, type Io } from './io.js'

export abstract class BaseCommand extends Command {
  protected io: Io = processIo

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err
    return this.exit(this.reportError(err))
  }

  /** Prints the error the way a user should see it; returns the exit code it maps to. */
  protected reportError(err: Error & { oclif?: { exit?: number } }): number {
    if (err instanceof ManifestError) {
      for (const issue of err.issues) this.io.err(formatIssue(issue))
      this.io.err(`error: ${err.issues.length} problem${err.issues.length === 1 ? '' : 's'} found`)
      return err.exitCode
    }
    if (err instanceof CtlError) {
      this.io.err(`error: ${err.message}`)
      if (process.env.CTL_DEBUG && err.stack) this.io.err(err.stack)
      return err.exitCode
    }
    // oclif's own parse errors (unknown flag, missing argument): usage, exit 2.
    if (err.oclif?.exit !== undefined || err instanceof Errors.CLIError) {
      // One line: oclif's message without its preamble and its own "See more help", then where help is.
      const said = err.message.replace(/^Error: /, '').split('\n').map((l) => l.trim())
        .filter((l) => l !== '' && !/^See more help/.test(l) && !/following errors? occurred:?$/i.test(l)).join('; ')
      this.io.err(`error: ${said}; see '${this.config.bin} ${this.id?.replace(/:/g, ' ') ?? ''} --help'`)
      return ExitCode.usage
    }
    this.io.err(`error: internal error: ${err.message}`)
    if (process.env.CTL_DEBUG && err.stack) this.io.err(err.stack)
    return ExitCode.unavailable
  }
}

export const fileFlags = {
  file: Flags.string({ char: 'f', summary: 'Manifest file, folder, or - for standard input (repeatable)', multiple: true }),
  recursive: Flags.boolean({ char: 'R', summary: 'Read folders given with -f recursively', default: false }),
  'disable-interpolation': Flags.boolean({ summary: 'Leave ${VAR} and $VAR in manifests as they are', default: false }),
}

export const workspaceFlag = {
  workspace: Flags.string({ char: 'w', summary: 'Workspace (default: the context\'s, usually public)' }),
}

export const outputFlag = {
  output: Flags.string({ char: 'o', summary: 'Output format', options: ['table', 'yaml', 'json'] }),
}

export const contextFlag = {
  context: Flags.string({ summary: 'Context to use instead of the current one', helpGroup: 'GLOBAL' }),
}

/** The flags of a verb acting on a workflow's active runs (stop, suspend, resume). */
export const runActionFlags = {
  type: Flags.string({ char: 't', summary: 'Resource type', default: 'workflow' }),
  name: Flags.string({ char: 'n', summary: 'Workflow name', required: true }),
  ...workspaceFlag,
  run: Flags.string({ summary: 'Only this run' }),
  ...outputFlag,
  ...contextFlag,
}

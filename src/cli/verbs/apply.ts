// `ctl resource apply`, in kubectl's shape: complete (flags → options),
// validate (options make sense together), run (the only place with effects).
import { CtlError } from '../../errors.js'
import type { Io } from '../io.js'
import { parseOutputFormat, type OutputFormat } from '../output.js'
import { runDryRun } from './dry-run.js'
import { completeLintOptions, runLint, validateLintOptions, type LintOptions } from './lint.js'

export interface ApplyFlags {
  file?: string[]
  recursive?: boolean
  'disable-interpolation'?: boolean
  workspace?: string
  output?: string
  context?: string
  lint?: boolean
  'dry-run'?: string
  wait?: boolean
}

export type DryRunMode = 'none' | 'client' | 'server'

export interface ApplyOptions extends LintOptions {
  output: OutputFormat
  lintOnly: boolean
  dryRun: DryRunMode
  wait: boolean
  context?: string
}

export class ApplyVerb {
  options!: ApplyOptions
  constructor(
    private readonly io: Io,
    private readonly cliRoot: string,
  ) {}

  complete(flags: ApplyFlags, env: NodeJS.ProcessEnv): void {
    this.options = {
      ...completeLintOptions(flags, env, 'applying'),
      output: parseOutputFormat(flags.output),
      lintOnly: flags.lint ?? false,
      dryRun: (flags['dry-run'] ?? 'none') as DryRunMode,
      wait: flags.wait ?? false,
      context: flags.context,
    }
  }

  validate(): void {
    validateLintOptions(this.options)
    const o = this.options
    if (o.lintOnly && o.dryRun !== 'none') throw new CtlError('E_USAGE', '--lint and --dry-run cannot be used together')
    if (o.wait && (o.lintOnly || o.dryRun !== 'none')) throw new CtlError('E_USAGE', '--wait needs a real apply (not --lint or --dry-run)')
  }

  async run(): Promise<void> {
    const o = this.options
    if (o.lintOnly) {
      await runLint(o, this.io)
      return
    }
    if (o.dryRun === 'client') {
      await runDryRun(o, this.io)
      return
    }
    throw new CtlError('E_UNAVAILABLE', `applying to a control plane is not available in this build (cli root ${this.cliRoot})`)
  }
}

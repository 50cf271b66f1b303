// `ctl resource apply`, in kubectl's shape: complete (flags → options),
// validate (options make sense together), run (the only place with effects).
import type { ApplyResponse, ApplyResultItem, RunRecord } from '../../client/types.js'
import { CtlError, ManifestError, type ManifestIssue } from '../../errors.js'
import { lintSources, parseSource, readSources } from '../../manifest/index.js'
import type { LoadedDocument } from '../../manifest/model.js'
import type { Io } from '../io.js'
import { offlineManifestContext } from '../offline.js'
import { parseOutputFormat, toJson, toYaml, type OutputFormat } from '../output.js'
import { runDryRun } from './dry-run.js'
import { completeLintOptions, describeResource, runLint, validateLintOptions, type LintOptions } from './lint.js'
import { locateServerIssue } from './locate.js'
import { openSession, type Session } from './session.js'
import { waitForRun } from './wait.js'

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
  /** `-w` as given; absent: the context's default workspace. */
  workspaceFlag?: string
}

/**
 * Problems only the control plane can judge: it knows the stacks and computes
 * applied there. The client defers these instead of refusing offline.
 */
const SERVER_KNOWS_BETTER = new Set(['E_UNKNOWN_STACK', 'E_UNKNOWN_COMPUTE'])

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
      workspaceFlag: flags.workspace,
    }
  }

  validate(): void {
    validateLintOptions(this.options)
    const o = this.options
    if (o.lintOnly && o.dryRun !== 'none') throw new CtlError('E_USAGE', '--lint and --dry-run cannot be used together')
    if (o.wait && (o.lintOnly || o.dryRun !== 'none')) throw new CtlError('E_USAGE', '--wait needs a real apply (not --lint or --dry-run)')
  }

  /** Resolves with the process exit code: 0, or 1 when a waited-for run failed. */
  async run(): Promise<number> {
    const o = this.options
    if (o.lintOnly) {
      await runLint(o, this.io)
      return 0
    }
    if (o.dryRun === 'client') {
      await runDryRun(o, this.io)
      return 0
    }
    const documents = await this.loadForServer()
    const session = await openSession({ context: o.context, workspace: o.workspaceFlag }, this.io, this.cliRoot, o.env)
    const workspace = session.workspace
    let response: ApplyResponse
    try {
      response = await session.client.apply(
        workspace,
        documents.map((d) => ({ source: { file: d.file, index: d.index }, manifest: d.value })),
        { dryRun: o.dryRun === 'server' },
      )
    } catch (error) {
      if (error instanceof ManifestError) throw new ManifestError(error.issues.map((i) => locateServerIssue(i, documents)))
      throw error
    }
    if (o.output === 'json') this.io.out(toJson(response))
    else if (o.output === 'yaml') this.io.out(toYaml(response))
    else {
      for (const r of response.results) {
        const what = o.dryRun === 'server' ? `${r.outcome === 'unchanged' ? 'unchanged' : r.outcome === 'created' ? 'would be created' : 'would be updated'} (server dry run)` : r.outcome
        this.io.out(`applying${describeResource(r, workspace)}...${what}`)
      }
      this.io.out('apply...complete')
    }
    if (!o.wait) return 0
    return this.waitForWorkflows(session, response.results)
  }

  /** Every document, parsed and linted locally first, so mistakes are caught with their lines before anything is sent. */
  private async loadForServer(): Promise<LoadedDocument[]> {
    const o = this.options
    const read = await readSources(o.files, { recursive: o.recursive, stdin: o.stdin })
    const documents: LoadedDocument[] = []
    const issues: ManifestIssue[] = [...read.issues]
    for (const source of read.sources) {
      const parsed = parseSource(source, { interpolate: o.interpolate, env: o.env })
      documents.push(...parsed.documents)
      issues.push(...parsed.issues)
    }
    if (issues.length === 0) {
      // Steps per workflow is the server's setting: it checks that bound, not the offline default.
      const ctx = { ...offlineManifestContext(), limits: { maxStepsPerWorkflow: Number.POSITIVE_INFINITY } }
      const lint = lintSources(read.sources, ctx, { interpolate: o.interpolate, env: o.env })
      issues.push(...lint.issues.filter((i) => !SERVER_KNOWS_BETTER.has(i.code)))
    }
    if (issues.length > 0) throw new ManifestError(issues)
    if (documents.length === 0) throw new CtlError('E_USAGE', 'the given files hold no manifest')
    return documents
  }

  private async waitForWorkflows(session: Session, results: ApplyResultItem[]): Promise<number> {
    let exit = 0
    for (const r of results) {
      if (r.type !== 'workflow') continue
      const ref = { workspace: r.workspace, type: r.type, name: r.name }
      const run = await findRunOf(session, ref, r)
      if (!run) {
        const [row] = await session.client.list({ workspace: r.workspace ?? undefined, type: 'workflow', name: r.name })
        this.io.out(`${r.name}: no run to wait for${row?.runtime ? ` (runtime ${row.runtime})` : ''}`)
        continue
      }
      this.io.out(`waiting for run ${run.id} of ${r.name}...`)
      const detail = await waitForRun(session.client, run.id, this.io)
      const took = detail.run.startedAt && detail.run.finishedAt ? ` in ${((Date.parse(detail.run.finishedAt) - Date.parse(detail.run.startedAt)) / 1000).toFixed(1)}s` : ''
      this.io.out(`run ${run.id} of ${r.name} ${detail.run.state}${took} (${detail.progress})`)
      if (detail.run.state !== 'succeeded') {
        exit = 1
        this.io.err(`see the logs: ctl resource log -t workflow -n ${r.name}${r.workspace && r.workspace !== 'public' ? ` -w ${r.workspace}` : ''} --run ${run.id}`)
      }
    }
    return exit
  }
}

/** The run this apply started (created asynchronously by the engine), or for an unchanged one the latest. */
async function findRunOf(session: Session, ref: { workspace: string | null; type: string; name: string }, result: ApplyResultItem): Promise<RunRecord | undefined> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const runs = await session.client.runs(ref, { limit: 5 })
    if (result.outcome === 'unchanged') return runs[0]
    const started = runs.find((run) => run.revision === result.revision && run.trigger === 'apply')
    if (started) return started
    const [row] = await session.client.list({ workspace: ref.workspace ?? undefined, type: 'workflow', name: ref.name })
    if (row?.runtime.startsWith('next:') || row?.status === 'error') return undefined
    if (Date.now() > deadline) return undefined
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

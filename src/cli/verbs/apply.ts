// `ctl resource apply`, in kubectl's shape: complete (flags → options),
// validate (options make sense together), run (the only place with effects).
import type { ApplyResponse, ApplyResultItem, RunRecord } from '../../api/types.js'
import { CtlError, ManifestError, type ManifestIssue } from '../../errors.js'
import { lintDocuments, parseSource, readSources } from '../../manifest/index.js'
import type { LoadedDocument, ParamSpec, WorkflowResource } from '../../manifest/model.js'
import { formatDuration } from '../../duration.js'
import type { Io } from '../io.js'
import { offlineManifestContext } from '../offline.js'
import { parseOutputFormat, toJson, toYaml, type OutputFormat } from '../output.js'
import { completeLintOptions, describeResource, runLint, validateLintOptions, type LintOptions } from './lint.js'
import { locateServerIssue } from './locate.js'
import { openSession, type Session } from './session.js'
import { formatParams, hasParamFlags, paramsFromFlags, validateParamFlags, type ParamFlags } from './run-params.js'

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
  rerun?: boolean
  param?: string[]
  'params-file'?: string
}

export type DryRunMode = 'none' | 'client' | 'server'

export interface ApplyOptions extends LintOptions {
  output: OutputFormat
  lintOnly: boolean
  dryRun: DryRunMode
  wait: boolean
  /** Start a new (manual) run of each applied workflow that was unchanged. */
  rerun: boolean
  context?: string
  /** `-w` as given; absent: the context's default workspace. */
  workspaceFlag?: string
  /** `--param` / `--params-file`: the params of the run the apply starts (or the dry run shows). */
  params: ParamFlags
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
      rerun: flags.rerun ?? false,
      context: flags.context,
      workspaceFlag: flags.workspace,
      params: { param: flags.param, 'params-file': flags['params-file'] },
    }
  }

  validate(): void {
    validateLintOptions(this.options)
    const o = this.options
    if (o.lintOnly && o.dryRun !== 'none') throw new CtlError('E_USAGE', '--lint and --dry-run cannot be used together')
    if (o.wait && (o.lintOnly || o.dryRun !== 'none')) throw new CtlError('E_USAGE', '--wait needs a real apply (not --lint or --dry-run)')
    if (o.rerun && (o.lintOnly || o.dryRun !== 'none')) throw new CtlError('E_USAGE', '--rerun needs a real apply (not --lint or --dry-run)')
    if (o.lintOnly && hasParamFlags(o.params)) throw new CtlError('E_USAGE', '--param and --params-file go to a run: use them with an apply or a --dry-run, not --lint')
    validateParamFlags(o.params)
  }

  /** Resolves with the process exit code: 0, or 1 when a waited-for run failed. */
  async run(): Promise<number> {
    const o = this.options
    if (o.lintOnly) {
      await runLint(o, this.io)
      return 0
    }
    if (o.dryRun === 'client') {
      // The dry run resolves Pods through the engine's code: loaded only by the dry run.
      const { runDryRun } = await import('./dry-run.js')
      await runDryRun(o, this.io)
      return 0
    }
    const { documents, declarations } = await this.loadForServer()
    const params = await paramsFromFlags(o.params, declarations)
    const session = await openSession({ context: o.context, workspace: o.workspaceFlag }, this.io, this.cliRoot, o.env)
    const workspace = session.workspace
    let response: ApplyResponse
    try {
      response = await session.client.apply(
        workspace,
        documents.map((d) => ({ source: { file: d.file, index: d.index }, manifest: d.value })),
        { dryRun: o.dryRun === 'server', ...(params ? { params } : {}) },
      )
    } catch (error) {
      if (error instanceof ManifestError) throw new ManifestError(error.issues.map((i) => locateServerIssue(i, documents)))
      throw error
    }
    if (o.rerun && o.dryRun === 'none') await this.rerunUnchanged(session, response.results, params)
    if (o.output === 'json') this.io.out(toJson(response))
    else if (o.output === 'yaml') this.io.out(toYaml(response))
    else {
      for (const r of response.results) {
        const what = o.dryRun === 'server' ? `${r.outcome === 'unchanged' ? 'unchanged' : r.outcome === 'created' ? 'would be created' : 'would be updated'} (server dry run)` : r.outcome
        this.io.out(`applying${describeResource(r, workspace)}...${what}`)
        if (o.rerun && r.outcome === 'unchanged' && r.runId) this.io.out(`started run ${r.runId} of ${r.name} (--rerun)`)
        if (r.params && Object.keys(r.params).length > 0) this.io.out(`  params: ${formatParams(r.params)}`)
        if (r.note) this.io.out(`  ${r.note}`)
        // An unchanged workflow starts no run, whatever the params: a new run with them is asked for with --rerun.
        if (params && !o.rerun && r.type === 'workflow' && r.outcome === 'unchanged' && o.dryRun === 'none') this.io.out(`  ${r.name} is unchanged: no run started with these params (add --rerun to start one)`)
      }
      // A server dry run with params answers the Pods of the run, as the client-side dry run shows them.
      if (response.results.some((r) => r.steps && r.manifest)) {
        const { printDryRunWorkflow } = await import('./dry-run.js')
        for (const r of response.results) {
          if (r.steps && r.manifest) printDryRunWorkflow(this.io, r.manifest as WorkflowResource, { params: r.params ?? {}, missing: [], steps: r.steps })
        }
      }
      this.io.out('apply...complete')
    }
    if (!o.wait) return 0
    return this.waitForWorkflows(session, response.results)
  }

  /**
   * --rerun: each unchanged workflow gets a manual run, through the same route as `runtime run`; its id goes
   * into the result as if the apply had started it (a changed workflow's apply already started one).
   */
  private async rerunUnchanged(session: Session, results: ApplyResultItem[], params: Record<string, unknown> | undefined): Promise<void> {
    for (const r of results) {
      if (r.type !== 'workflow' || r.outcome !== 'unchanged') continue
      const run = await session.client.runNow({ workspace: r.workspace, type: r.type, name: r.name }, params)
      r.runId = run.id
      if (run.params) r.params = run.params
    }
  }

  /** Every document, parsed and linted locally first, so mistakes are caught with their lines before anything is sent. */
  private async loadForServer(): Promise<{ documents: LoadedDocument[]; declarations?: ParamSpec[] }> {
    const o = this.options
    const read = await readSources(o.files, { recursive: o.recursive, stdin: o.stdin })
    const documents: LoadedDocument[] = []
    const issues: ManifestIssue[] = [...read.issues]
    let declarations: ParamSpec[] | undefined
    for (const source of read.sources) {
      const parsed = parseSource(source, { interpolate: o.interpolate, env: o.env })
      documents.push(...parsed.documents)
      issues.push(...parsed.issues)
    }
    if (issues.length === 0) {
      // Steps per workflow is the server's setting: it checks that bound, not the offline default.
      const ctx = { ...offlineManifestContext(), limits: { maxStepsPerWorkflow: Number.POSITIVE_INFINITY, maxForEachItems: Number.POSITIVE_INFINITY } }
      const lint = lintDocuments(documents, [], ctx)
      issues.push(...lint.issues.filter((i) => !SERVER_KNOWS_BETTER.has(i.code)))
      // `--param` values are typed by the declarations of the (one) workflow applied; the server checks the rest.
      const workflows = lint.documents.filter((d) => d.resource.meta.type === 'workflow')
      if (workflows.length === 1) declarations = (workflows[0]!.resource as WorkflowResource).workflow.params
    }
    if (issues.length > 0) throw new ManifestError(issues)
    if (documents.length === 0) throw new CtlError('E_USAGE', 'the given files hold no manifest')
    return { documents, declarations }
  }

  private async waitForWorkflows(session: Session, results: ApplyResultItem[]): Promise<number> {
    const { waitForRun } = await import('./wait.js')
    let exit = 0
    for (const r of results) {
      if (r.type !== 'workflow') continue
      const ref = { workspace: r.workspace, type: r.type, name: r.name }
      if (!r.runId && r.note) {
        // Applied, but it cannot run without the params it requires: --wait has nothing to follow.
        this.io.out(`${r.name}: no run to wait for (${r.note})`)
        exit = 1
        continue
      }
      if (!r.runId) {
        // Nothing started: an old run is never presented as this apply's.
        const { line, failed } = await this.noRunLine(session, ref, r)
        this.io.out(line)
        if (failed) exit = 1
        continue
      }
      this.io.out(`waiting for run ${r.runId} of ${r.name}...`)
      const detail = await waitForRun(session.client, r.runId, this.io)
      const took = detail.run.startedAt && detail.run.finishedAt ? ` in ${((Date.parse(detail.run.finishedAt) - Date.parse(detail.run.startedAt)) / 1000).toFixed(1)}s` : ''
      this.io.out(`run ${r.runId} of ${r.name} ${detail.run.state}${took} (${detail.progress})`)
      if (detail.run.state !== 'succeeded') {
        exit = 1
        this.io.err(`see the logs: ctl resource log -t workflow -n ${r.name}${r.workspace && r.workspace !== 'public' ? ` -w ${r.workspace}` : ''} --run ${r.runId}`)
      }
    }
    return exit
  }

  /**
   * One line for a workflow this apply started no run of: unchanged (with its last run), scheduled, or in
   * error (which --wait counts as a failure: the workflow cannot run as applied).
   */
  private async noRunLine(session: Session, ref: { workspace: string | null; type: string; name: string }, r: ApplyResultItem): Promise<{ line: string; failed: boolean }> {
    const [row] = await session.client.list({ workspace: ref.workspace ?? undefined, type: 'workflow', name: ref.name })
    if (row?.status === 'error') return { line: `${r.name}: no run to wait for (status error${row.statusReason ? `: ${row.statusReason}` : ''})`, failed: true }
    const unchanged = r.outcome === 'unchanged' ? `${r.name} is unchanged` : `${r.name}: no run to wait for`
    if (row?.runtime.startsWith('next:')) return { line: `${unchanged}; it is scheduled, next run at ${row.runtime.slice(5)}`, failed: false }
    if (r.outcome !== 'unchanged') return { line: `${unchanged}${row?.runtime ? ` (runtime ${row.runtime})` : ''}`, failed: false }
    const [last] = await session.client.runs(ref, { limit: 1 })
    const hint = '(use --rerun to run it again)'
    if (!last) return { line: `${unchanged}; it has no run yet ${hint}`, failed: false }
    return { line: `${unchanged}; its last run ${last.id} ${lastRunState(last, Date.now())} ${hint}`, failed: false }
  }
}

/** `succeeded 3m ago`, `is running (started 12s ago)`, `is pending (created 1s ago)`. */
function lastRunState(run: RunRecord, now: number): string {
  const ago = (iso: string): string => `${formatDuration(Math.max(0, now - Date.parse(iso)))} ago`
  if (run.finishedAt) return `${run.state} ${ago(run.finishedAt)}`
  return run.startedAt ? `is ${run.state} (started ${ago(run.startedAt)})` : `is ${run.state} (created ${ago(run.createdAt)})`
}


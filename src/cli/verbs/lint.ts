// `ctl resource lint` (and `apply --lint`): every file, every document, every
// problem in one run, printed `FILE:LINE:COL  message (path)`.
import { ManifestError } from '../../errors.js'
import { printReport, type OutputFormat } from '../output.js'
import { lintFiles } from '../../manifest/index.js'
import type { ManifestContext } from '../../manifest/index.js'
import type { NormalizedDocument } from '../../manifest/model.js'
import { INSTANCE_LEVEL_TYPES } from '../../manifest/model.js'
import type { Io } from '../io.js'
import { offlineManifestContext } from '../offline.js'
import { completeFileOptions, validateFileOptions, type FileOptions } from './files.js'

export interface LintOptions extends FileOptions {
  workspace: string
  /** The verb word printed before each resource: `linting` or `applying`. */
  verb: string
}

export function completeLintOptions(flags: { file?: string[]; recursive?: boolean; 'disable-interpolation'?: boolean; workspace?: string }, env: NodeJS.ProcessEnv, verb = 'linting'): LintOptions {
  return { ...completeFileOptions(flags, env), workspace: flags.workspace ?? 'public', verb }
}

export function validateLintOptions(options: LintOptions): void {
  validateFileOptions(options)
}

/** Lints; throws ManifestError with every issue when anything is invalid. */
export async function lintManifests(options: LintOptions, ctx: ManifestContext = offlineManifestContext()): Promise<NormalizedDocument[]> {
  const result = await lintFiles(options.files, ctx, {
    interpolate: options.interpolate,
    env: options.env,
    recursive: options.recursive,
    stdin: options.stdin,
  })
  if (result.issues.length > 0) throw new ManifestError(result.issues)
  return result.documents
}

/** `(public) name:version:type`, as dataos-ctl prints a resource; instance-level types have no workspace. */
export function describeResource(meta: { name: string; version: string; type: string; workspace?: string | null }, workspace: string): string {
  const scope = (INSTANCE_LEVEL_TYPES as readonly string[]).includes(meta.type) ? '' : `(${meta.workspace ?? workspace})`
  return `${scope} ${meta.name}:${meta.version}:${meta.type}`
}

export async function runLint(options: LintOptions, io: Io): Promise<NormalizedDocument[]> {
  const documents = await lintManifests(options)
  for (const { resource } of documents) io.out(`${options.verb}${describeResource(resource.meta, options.workspace)}...valid`)
  io.out(`${options.verb === 'linting' ? 'lint' : 'apply'}...complete (${documents.length} resource${documents.length === 1 ? '' : 's'} valid)`)
  return documents
}

/**
 * `lint -o json|yaml`: `{valid, resources, issues}` on stdout, whatever the verdict; returns the
 * exit code (0 valid, 1 invalid, as the text form).
 */
export async function runLintReport(options: LintOptions, io: Io, output: OutputFormat): Promise<number> {
  const result = await lintFiles(options.files, offlineManifestContext(), {
    interpolate: options.interpolate, env: options.env, recursive: options.recursive, stdin: options.stdin,
  })
  const resources = result.documents.map(({ resource }) => ({
    workspace: (INSTANCE_LEVEL_TYPES as readonly string[]).includes(resource.meta.type) ? null : resource.meta.workspace ?? options.workspace,
    name: resource.meta.name, version: resource.meta.version, type: resource.meta.type,
  }))
  printReport(io, output, { valid: result.issues.length === 0, resources, issues: result.issues }, () => undefined)
  return result.issues.length === 0 ? 0 : new ManifestError(result.issues).exitCode
}

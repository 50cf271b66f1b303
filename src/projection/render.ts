// Renders a step's projection: loads its secrets, fills env vars, files and
// arguments from their templates, and says which results carry secret values.
// `references` mode (dry runs) never reads a secret value: keys read as
// placeholders such as `<secret:workflow-secret/API_TOKEN>`.
// Registry credentials (cloud-kernel-image-pull secrets) are set apart: they
// become the Pod's imagePullSecrets, never env, files or template values.

import { CtlError } from '../errors.js'
import { envNameProblem } from '../manifest/limits.js'
import type { ProjectionSpec, SecretRef } from '../manifest/model.js'
import { DOCKER_CONFIG_KEY, PULL_SECRET_TYPE, dockerConfigJson } from '../manifest/pull-secret.js'
import { renderTemplate } from '../template/template.js'
import { projectionReferences, type ProjectionReference } from './check.js'
import { secretLocation, type SecretValueProvider } from './secrets.js'

export const DEFAULT_PROJECTION_DIRECTORY = '/etc/ctl/projection'

export type ProjectionMode = 'values' | 'references'

export interface RenderedEnvVar { key: string; value: string; sensitive: boolean }
export interface RenderedFile { name: string; directory: string; value: string; sensitive: boolean }
export interface RenderedArgument { value: string; sensitive: boolean }
export interface RenderedPullSecret {
  ref: SecretRef
  /** The Docker config JSON; the placeholder `<secret:ID/.dockerconfigjson>` in references mode. */
  dockerConfigJson: string
}

export interface RenderedProjection {
  mode: ProjectionMode
  /** allKeysAsEnv keys first, then the declared envVars in order. */
  envVars: RenderedEnvVar[]
  files: RenderedFile[]
  arguments: RenderedArgument[]
  /** The referenced cloud-kernel-image-pull secrets, once each, in declaration order. */
  pullSecrets: RenderedPullSecret[]
  /** Every secret value used by env vars, files and arguments, for log redaction. Empty in references mode. */
  projectedValues: string[]
}

export interface RenderProjectionInput {
  workspace: string
  defaults: Record<string, string>
  secrets: SecretValueProvider
  mode: ProjectionMode
}

export function secretPlaceholder(ref: SecretRef, key: string): string {
  return `<secret:${ref.id}/${key}>`
}

const FILE_NAME = /^[-._a-zA-Z0-9]+$/

export async function renderProjection(spec: ProjectionSpec, input: RenderProjectionInput): Promise<RenderedProjection> {
  const byAlias = new Map<string, SecretRef>()
  for (const ref of spec.secrets) {
    if (byAlias.has(ref.contextAlias)) throw new CtlError('E_PROJECTION', `secret alias "${ref.contextAlias}" is declared twice`)
    byAlias.set(ref.contextAlias, ref)
  }
  const aliases = new Set(byAlias.keys())
  for (const alias of spec.allKeysAsEnv) {
    if (!aliases.has(alias)) throw new CtlError('E_PROJECTION', `allKeysAsEnv names unknown secret alias "${alias}"`)
  }
  const pullAliases = new Set<string>()
  if (input.secrets.kindOf) {
    for (const [alias, ref] of byAlias) {
      if ((await input.secrets.kindOf(ref, input.workspace)) === PULL_SECRET_TYPE) pullAliases.add(alias)
    }
  }

  const templates: { text: string; what: string; refs: ProjectionReference[] }[] = []
  const add = (text: string, what: string) => {
    const refs = projectionReferences(text, aliases)
    // A template reading registry credentials is refused rather than filled: the point of the type is that
    // they reach the kubelet only, never the container; a step that needs them should use a key-value secret.
    for (const r of refs) {
      if (r.kind !== 'secret' || !pullAliases.has(r.alias)) continue
      const ref = byAlias.get(r.alias)!
      throw new CtlError(
        'E_PROJECTION',
        `${what}: secret alias "${r.alias}" is the image pull secret "${ref.id}" (type ${PULL_SECRET_TYPE}); it only becomes the Pod's imagePullSecrets and has no values a template can read`,
        { alias: r.alias, secret: ref.id },
      )
    }
    templates.push({ text, what, refs })
    return templates.length - 1
  }
  const envIdx = spec.envVars.map((e) => add(e.value, `projection envVar "${e.key}"`))
  const fileIdx = spec.files.map((f) => add(f.value, `projection file "${f.name}"`))
  const argIdx = spec.arguments.map((a, i) => add(a, `projection argument ${i}`))

  const used = new Set<string>()
  const context: { secrets: Record<string, Record<string, string>>; defaultProjections: Record<string, string> } = {
    secrets: {},
    defaultProjections: input.defaults,
  }
  const data = new Map<string, Record<string, string>>()
  const pullSecrets: RenderedPullSecret[] = []
  const pullSeen = new Set<string>()
  for (const [alias, ref] of byAlias) {
    const pull = pullAliases.has(alias)
    if (input.mode === 'references') {
      if (!pull) context.secrets[alias] = {}
      else if (!pullSeen.has(pullKey(ref, input.workspace))) {
        pullSeen.add(pullKey(ref, input.workspace))
        pullSecrets.push({ ref, dockerConfigJson: secretPlaceholder(ref, DOCKER_CONFIG_KEY) })
      }
      continue
    }
    const values = await input.secrets.getSecret(ref, input.workspace)
    if (!values) {
      throw new CtlError('E_SECRET', `secret "${ref.id}" not found in ${secretLocation(ref, input.workspace)}`, { secret: ref.id, workspace: ref.workspace ?? input.workspace })
    }
    if (!pull) {
      data.set(alias, values)
      context.secrets[alias] = values
    } else if (!pullSeen.has(pullKey(ref, input.workspace))) {
      pullSeen.add(pullKey(ref, input.workspace))
      pullSecrets.push({ ref, dockerConfigJson: dockerConfigJson(values, `image pull secret "${ref.id}" in ${secretLocation(ref, input.workspace)}`) })
    }
  }
  for (const t of templates) {
    for (const r of t.refs) {
      if (r.kind !== 'secret') continue
      const ref = byAlias.get(r.alias)!
      if (input.mode === 'references') {
        context.secrets[r.alias]![r.key] = secretPlaceholder(ref, r.key)
        continue
      }
      const values = data.get(r.alias)!
      if (!Object.prototype.hasOwnProperty.call(values, r.key)) {
        throw new CtlError('E_PROJECTION', `${t.what}: secret "${ref.id}" (alias "${r.alias}") has no key "${r.key}"`, { alias: r.alias, key: r.key, secret: ref.id })
      }
      used.add(values[r.key]!)
    }
  }

  const render = (i: number) => {
    const t = templates[i]!
    return {
      value: renderTemplate(t.text, context, { code: 'E_PROJECTION', what: t.what }),
      sensitive: t.refs.some((r) => r.kind === 'secret'),
    }
  }

  const envVars: RenderedEnvVar[] = []
  for (const alias of spec.allKeysAsEnv) {
    // v1 `secrets: [regcred]` is how a v1 step names its pull secret: no env from it.
    if (pullAliases.has(alias)) continue
    const ref = byAlias.get(alias)!
    if (input.mode === 'values') {
      for (const [key, value] of Object.entries(data.get(alias)!)) {
        // A secret's keys become variable names: one named PATH, CTL_* or `a.b` is not set (the lint rule for env names).
        if (envNameProblem(key)) continue
        envVars.push({ key, value, sensitive: true })
        used.add(value)
      }
    } else {
      const keys = (await input.secrets.listKeys?.(ref, input.workspace)) ?? []
      for (const key of keys) if (!envNameProblem(key)) envVars.push({ key, value: secretPlaceholder(ref, key), sensitive: true })
    }
  }
  spec.envVars.forEach((e, i) => envVars.push({ key: e.key, ...render(envIdx[i]!) }))

  const files: RenderedFile[] = spec.files.map((f, i) => {
    if (!FILE_NAME.test(f.name) || f.name === '.' || f.name === '..') {
      throw new CtlError('E_PROJECTION', `projection file name "${f.name}" must match [-._a-zA-Z0-9]+`)
    }
    const directory = (f.directory ?? DEFAULT_PROJECTION_DIRECTORY).replace(/\/+$/, '') || '/'
    if (!directory.startsWith('/')) throw new CtlError('E_PROJECTION', `projection file "${f.name}": directory "${f.directory}" must be absolute`)
    return { name: f.name, directory, ...render(fileIdx[i]!) }
  })
  const args: RenderedArgument[] = spec.arguments.map((_a, i) => render(argIdx[i]!))

  used.delete('')
  return { mode: input.mode, envVars, files, arguments: args, pullSecrets, projectedValues: [...used] }
}

/** One pull secret referenced under two aliases is still one imagePullSecret. */
function pullKey(ref: SecretRef, workspace: string): string {
  return ref.instance ? `instance\u0000${ref.id}` : `ws\u0000${ref.workspace ?? workspace}\u0000${ref.id}`
}

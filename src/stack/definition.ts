// Turns the `stack:` body of a `type: stack` manifest (built in under stacks/,
// or applied by a user) into the StackDefinition the rest of ctl uses.

import { yaml } from '../lazy-module.js'
import { CtlError } from '../errors.js'
import type { ResourceMeta, StackDefinition } from '../manifest/model.js'
import { templateReferences } from '../template/template.js'
import { checkStackSpecSchema } from './validate.js'

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return []
  if (Array.isArray(value)) return value.map((v) => String(v))
  return [String(value)]
}

/** `{registry, repository, image, tag}` → `registry/repository/image:tag`; a string stays as is. */
export function imageReference(value: unknown): string {
  if (typeof value === 'string') return value
  if (!isRecord(value)) return ''
  const path = [value.registry, value.repository, value.image]
    .filter((p) => typeof p === 'string' && p !== '')
    .map((p) => String(p).replace(/^\/+|\/+$/g, ''))
    .join('/')
  const tag = value.tag === undefined || value.tag === null || value.tag === '' ? '' : `:${String(value.tag)}`
  return path + tag
}

function jsonSchemaOf(name: string, value: unknown): Record<string, unknown> {
  const raw = isRecord(value) ? value.jsonSchema : undefined
  if (raw === undefined || raw === null) return { type: 'object' }
  if (isRecord(raw)) return raw
  // DataOS writes the schema as a JSON string inside YAML; YAML parses JSON too.
  if (typeof raw === 'string') {
    try {
      const parsed: unknown = yaml().parse(raw)
      if (isRecord(parsed)) return parsed
    } catch {
      // reported below
    }
  }
  throw new CtlError('E_STACK_SPEC', `stack "${name}": stackSpecValueSchema.jsonSchema is not a JSON Schema object`)
}

function configFiles(name: string, value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined
  let files: unknown = value
  // DataOS also writes configFileTemplate as one YAML text of `file: content`;
  // each content is then rendered on its own.
  if (typeof value === 'string') {
    try { files = yaml().parse(value) } catch { files = undefined }
  }
  if (!isRecord(files)) {
    throw new CtlError('E_STACK_TEMPLATE', `stack "${name}": configFileTemplate must map file names to templates`)
  }
  const out: Record<string, string> = {}
  for (const [file, content] of Object.entries(files)) {
    if (!/^[-._a-zA-Z0-9]+$/.test(file) || file === '.' || file === '..') {
      throw new CtlError('E_STACK_TEMPLATE', `stack "${name}": config file name "${file}" must match [-._a-zA-Z0-9]+`)
    }
    out[file] = typeof content === 'string' ? content : String(content ?? '')
  }
  return out
}

export function stackDefinitionFromBody(meta: ResourceMeta, body: Record<string, unknown>): StackDefinition {
  const name = typeof body.name === 'string' && body.name !== '' ? body.name : meta.name
  const version = body.version === undefined || body.version === null ? '1.0' : String(body.version)
  const job = isRecord(body.workflowJobConfig) ? body.workflowJobConfig : {}
  const env: Record<string, string> = {}
  if (isRecord(body.environmentVars)) {
    for (const [k, v] of Object.entries(body.environmentVars)) env[k] = v === null || v === undefined ? '' : String(v)
  }
  const def: StackDefinition = {
    name,
    version,
    image: imageReference(body.image),
    command: stringList(body.command),
    arguments: stringList(body.arguments),
    environmentVars: env,
    stackSpecJsonSchema: jsonSchemaOf(name, body.stackSpecValueSchema),
    workflowJobConfig: {},
  }
  if (typeof body.flavor === 'string') def.flavor = body.flavor
  if (typeof job.containerResourceTemplate === 'string') def.workflowJobConfig.containerResourceTemplate = job.containerResourceTemplate
  const files = configFiles(name, job.configFileTemplate)
  if (files) def.workflowJobConfig.configFileTemplate = files
  checkStackDefinition(def)
  return def
}

/**
 * Refuses a stack whose templates do not parse or whose stackSpec schema does
 * not compile, so the mistake surfaces when the stack is applied, not when a
 * workflow using it runs.
 */
export function checkStackDefinition(def: StackDefinition): void {
  const id = `stack "${def.name}:${def.version}"`
  const check = (source: string, part: string) => templateReferences(source, { what: `${id} ${part}` })
  check(def.image, 'image')
  def.command.forEach((c, i) => check(c, `command[${i}]`))
  def.arguments.forEach((a, i) => check(a, `arguments[${i}]`))
  for (const [k, v] of Object.entries(def.environmentVars)) check(v, `environmentVars.${k}`)
  if (def.workflowJobConfig.containerResourceTemplate) check(def.workflowJobConfig.containerResourceTemplate, 'containerResourceTemplate')
  for (const [file, t] of Object.entries(def.workflowJobConfig.configFileTemplate ?? {})) check(t, `configFileTemplate "${file}"`)
  checkStackSpecSchema(def)
}

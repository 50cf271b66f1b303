// A small, real ManifestContext for the manifest tests: a Map of stack
// definitions, ajv for stackSpec, a regex check of projection templates. It is
// the injected dependency of the code under test, not a stand-in for it.

import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Ajv, type ValidateFunction } from 'ajv'
import type { ManifestContext } from '../../src/manifest/index.js'
import { checkExpression } from '../../src/expr/index.js'
import type { JsonPath, ResourceMeta, StackDefinition, StackRef } from '../../src/manifest/model.js'

const containerSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    image: { type: 'string' },
    command: { type: 'array', items: { type: 'string' } },
    arguments: { type: 'array', items: { type: 'string' } },
  },
  required: ['image'],
}

export function stackDef(name: string, version: string, schema: Record<string, unknown> = containerSchema): StackDefinition {
  return {
    name,
    version,
    image: 'docker.io/library/alpine:3.20',
    command: [],
    arguments: [],
    environmentVars: {},
    stackSpecJsonSchema: schema,
    workflowJobConfig: {},
  }
}

const DEFAULT_PROJECTIONS = new Set(['dataOsRunId', 'runId', 'workspace', 'resourceName'])

export interface TestContextOptions {
  computes?: string[]
  stacks?: StackDefinition[]
}

export function testContext(opts: TestContextOptions = {}): ManifestContext {
  const stacks = new Map<string, StackDefinition>()
  for (const s of opts.stacks ?? [stackDef('container', '1.0'), stackDef('container', '2.0'), stackDef('echo', '1.0', { type: 'object' })]) {
    stacks.set(`${s.name}:${s.version}`, s)
  }
  const ajv = new Ajv({ allErrors: true })
  const compiled = new Map<StackDefinition, ValidateFunction>()
  const ctx: ManifestContext = {
    // The catalog's batch rule (src/stack/catalog.ts): the batch's stacks and computes join the known ones.
    withBatch(resources) {
      const batch = resources.flatMap((r) => (r.meta.type === 'stack' && r.stack ? [r.stack as StackDefinition] : []))
      const computes = resources.filter((r) => r.meta.type === 'compute').map((r) => r.meta.name)
      return testContext({ ...opts, stacks: [...stacks.values(), ...batch], ...(opts.computes ? { computes: [...opts.computes, ...computes] } : {}) })
    },
    checkExpression,
    resolveStack(ref: StackRef) {
      if (ref.version !== undefined) return stacks.get(`${ref.name}:${ref.version}`)
      const versions = ctx.stackVersions(ref.name)
      return versions.length > 0 ? stacks.get(`${ref.name}:${versions[versions.length - 1]}`) : undefined
    },
    stackVersions(name: string) {
      return [...stacks.values()].filter((s) => s.name === name).map((s) => s.version).sort()
    },
    validateStackSpec(stack: StackDefinition, stackSpec: unknown) {
      let validate = compiled.get(stack)
      if (!validate) {
        validate = ajv.compile(stack.stackSpecJsonSchema)
        compiled.set(stack, validate)
      }
      if (validate(stackSpec)) return []
      return (validate.errors ?? []).map((e) => {
        const path: (string | number)[] = e.instancePath
          .split('/')
          .slice(1)
          .map((p) => (/^\d+$/.test(p) ? Number(p) : p))
        if (e.keyword === 'additionalProperties') {
          const field = String((e.params as { additionalProperty: string }).additionalProperty)
          return { path: [...path, field] as JsonPath, message: `unknown field "${field}"` }
        }
        return { path: path as JsonPath, message: e.message ?? 'invalid' }
      })
    },
    checkTemplate(template: string, declared: ReadonlySet<string>) {
      const out: string[] = []
      for (const m of template.matchAll(/\{\{\s*\.secrets\.([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z0-9_]+\s*\}\}/g)) {
        if (!declared.has(m[1]!)) out.push(`unknown secret alias "${m[1]}"; declared: ${[...declared].join(', ') || 'none'}`)
      }
      for (const m of template.matchAll(/\{\{\s*\.defaultProjections\.([A-Za-z_]+)\s*\}\}/g)) {
        if (!DEFAULT_PROJECTIONS.has(m[1]!)) out.push(`unknown default projection "${m[1]}"`)
      }
      return out
    },
    stackDefinitionFromBody(meta: ResourceMeta, body: Record<string, unknown>) {
      const image = body['image']
      const imageRef =
        typeof image === 'string'
          ? image
          : (() => {
              const i = image as Record<string, string>
              return `${i['registry'] ? `${i['registry']}/` : ''}${i['repository'] ? `${i['repository']}/` : ''}${i['image']}${i['tag'] ? `:${i['tag']}` : ''}`
            })()
      const valueSchema = (body['stackSpecValueSchema'] as { jsonSchema?: Record<string, unknown> } | undefined)?.jsonSchema
      return {
        ...stackDef(String(body['name'] ?? meta.name), String(body['version'] ?? '1.0'), valueSchema ?? { type: 'object' }),
        image: imageRef,
      }
    },
  }
  if (opts.computes) ctx.knownComputes = new Set(opts.computes)
  return ctx
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'ctl-manifest-'))
}

/** Writes files (relative path → content) under a fresh temp folder; returns the folder. */
export function writeTree(files: Record<string, string>): string {
  const root = tempDir()
  for (const [rel, content] of Object.entries(files)) {
    const full = join(root, rel)
    mkdirSync(dirname(full), { recursive: true })
    writeFileSync(full, content)
  }
  return root
}

/** Strips the common leading indentation of a template literal, so YAML can be written inline. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '')
  const lines = text.replace(/^\n/, '').split('\n')
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.match(/^ */)![0].length))
  return lines.map((l) => l.slice(indent)).join('\n')
}

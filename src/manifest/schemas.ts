// JSON Schemas of every resource type and manifest version. The files under
// schemas/ hold the meta fields and each type's body; a document's schema is
// the two composed into one self-contained schema (meta inlined, body under
// its key, unknown top-level keys refused). Validators compile once, lazily.

import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js'
import { lazyModule } from '../lazy-module.js'
import { CtlError } from '../errors.js'
import { packageRoot } from '../package-root.js'
import { MANIFEST_VERSIONS, RESOURCE_TYPES, type ManifestVersion, type ResourceType } from './model.js'
import { precompiledValidator } from './precompiled.js'
import { unknownMessage } from './suggest.js'

interface SchemaEntry {
  type: ResourceType
  versions: readonly ManifestVersion[]
  file: string
  /** The top-level key holding the body, e.g. `workflow` (v1) or `spec` (v2alpha). */
  bodyKey: string
}

// Workflows have two real shapes. The other types have one body shape that
// DataOS publishes under different versions (v1, v1beta, v1alpha), so every
// version is accepted for them rather than guessing which one a user has.
const ENTRIES: readonly SchemaEntry[] = [
  { type: 'workflow', versions: ['v1'], file: 'workflow-v1.json', bodyKey: 'workflow' },
  { type: 'workflow', versions: ['v2alpha'], file: 'workflow-v2alpha.json', bodyKey: 'spec' },
  { type: 'secret', versions: MANIFEST_VERSIONS, file: 'secret.json', bodyKey: 'secret' },
  { type: 'instance-secret', versions: MANIFEST_VERSIONS, file: 'instance-secret.json', bodyKey: 'instance-secret' },
  { type: 'volume', versions: MANIFEST_VERSIONS, file: 'volume.json', bodyKey: 'volume' },
  { type: 'compute', versions: MANIFEST_VERSIONS, file: 'compute.json', bodyKey: 'compute' },
  { type: 'stack', versions: MANIFEST_VERSIONS, file: 'stack.json', bodyKey: 'stack' },
]

/** Versions a type accepts, in the order of MANIFEST_VERSIONS. */
export function supportedVersions(type: ResourceType): ManifestVersion[] {
  const versions = new Set(ENTRIES.filter((e) => e.type === type).flatMap((e) => e.versions))
  return MANIFEST_VERSIONS.filter((v) => versions.has(v))
}

function entryFor(type: ResourceType, version: ManifestVersion): SchemaEntry | undefined {
  return ENTRIES.find((e) => e.type === type && e.versions.includes(version))
}

/** The key a document of this type and version keeps its body under. */
export function bodyKeyFor(type: ResourceType, version: ManifestVersion): string | undefined {
  return entryFor(type, version)?.bodyKey
}

/** `type:version` of every schema, e.g. `workflow:v2alpha`. */
export function schemaIds(): string[] {
  return ENTRIES.flatMap((e) => e.versions.map((v) => `${e.type}:${v}`))
}

let schemasDir: string | undefined
/** schemas/ in ctl's package folder. */
export function schemaDirectory(): string {
  if (schemasDir) return schemasDir
  const dir = join(packageRoot(), 'schemas')
  if (!existsSync(dir)) throw new CtlError('E_INTERNAL', `cannot find the schemas/ folder: ${dir} is missing`)
  return (schemasDir = dir)
}

const fileCache = new Map<string, Record<string, unknown>>()
function readSchemaFile(file: string): Record<string, unknown> {
  let schema = fileCache.get(file)
  if (!schema) {
    schema = JSON.parse(readFileSync(join(schemaDirectory(), file), 'utf8')) as Record<string, unknown>
    fileCache.set(file, schema)
  }
  return schema
}

export function isResourceType(value: unknown): value is ResourceType {
  return typeof value === 'string' && (RESOURCE_TYPES as readonly string[]).includes(value)
}

export function isManifestVersion(value: unknown): value is ManifestVersion {
  return typeof value === 'string' && (MANIFEST_VERSIONS as readonly string[]).includes(value)
}

/**
 * The complete schema of one manifest type and version: meta fields inlined,
 * `type` and `version` pinned, the body under its key, its `$defs` hoisted.
 * Throws CtlError E_UNKNOWN_TYPE / E_UNKNOWN_VERSION for what does not exist.
 */
export function schemaFor(type: string, version: string): Record<string, unknown> {
  if (!isResourceType(type)) {
    throw new CtlError('E_UNKNOWN_TYPE', unknownMessage('type', type, RESOURCE_TYPES, 'known types'))
  }
  const entry = isManifestVersion(version) ? entryFor(type, version) : undefined
  if (!entry) {
    throw new CtlError('E_UNKNOWN_VERSION', `version "${version}" is not supported for type ${type}; supported: ${supportedVersions(type).join(', ')}`)
  }
  const meta = readSchemaFile('meta.json')
  const body = readSchemaFile(entry.file)
  const { $schema: _s, $id: _i, $defs, title: bodyTitle, ...bodySchema } = body
  const metaProps = { ...(meta['properties'] as Record<string, unknown>) }
  metaProps['type'] = { const: type }
  metaProps['version'] = entry.versions.length === 1 ? { const: version } : { enum: [...entry.versions] }
  const composed: Record<string, unknown> = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://ctl.dev/schemas/${type}-${version}.json`,
    title: `${type} ${version}`,
    description: typeof bodyTitle === 'string' ? `Manifest of a ${type} (${version}); ${bodyTitle}` : undefined,
    type: 'object',
    additionalProperties: false,
    properties: { ...metaProps, [entry.bodyKey]: bodySchema },
    required: [...(meta['required'] as string[]), entry.bodyKey],
  }
  if (composed['description'] === undefined) delete composed['description']
  if ($defs) composed['$defs'] = $defs
  return composed
}

let ajv: Ajv2020 | undefined
const validators = new Map<string, ValidateFunction>()

/** The schema one validator checks: every version of a shared body at once (the versions differ only in `version`). */
function validatorSchema(entry: SchemaEntry): Record<string, unknown> {
  const schema = schemaFor(entry.type, entry.versions[0]!)
  schema['properties'] = { ...(schema['properties'] as Record<string, unknown>), version: { enum: [...entry.versions] } }
  return schema
}

/** `type:file`, one validator per schema file. */
function validatorKey(entry: SchemaEntry): string {
  return `${entry.type}:${entry.file}`
}

/** The compiled validator of a type and version: the build's (src/manifest/precompiled.ts) or compiled on first use. */
export function validatorFor(type: ResourceType, version: ManifestVersion): ValidateFunction {
  const entry = entryFor(type, version)
  if (!entry) throw new CtlError('E_UNKNOWN_VERSION', `version "${version}" is not supported for type ${type}`)
  const key = validatorKey(entry)
  let validate = validators.get(key)
  if (!validate) {
    const schema = validatorSchema(entry)
    validate = precompiledValidator('manifest', JSON.stringify(schema)) ?? (ajv ??= createAjv()).compile(schema)
    validators.set(key, validate)
  }
  return validate
}

/** The schema of every manifest validator: what the build precompiles (with AJV_OPTIONS). */
export function validatorSchemas(): Record<string, unknown>[] {
  return ENTRIES.map(validatorSchema)
}

export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, allowUnionTypes: true } as const

// Loaded only to compile a schema the build did not precompile (tests from src/, a changed schema).
const ajv2020 = lazyModule<typeof import('ajv/dist/2020.js')>('ajv/dist/2020.js')

function createAjv(): Ajv2020 {
  // verbose: errors carry their parentSchema, which the messages use for the
  // allowed keys (did-you-mean) and the human hint of a pattern.
  const instance = new (ajv2020().Ajv2020)({ ...AJV_OPTIONS })
  instance.addVocabulary(['x-hint'])
  return instance
}

// Which stacks exist: the built-ins shipped in the package's stacks/ folder,
// plus stacks applied as `type: stack`. A reference without a version resolves
// to the newest one known.

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { yaml } from '../lazy-module.js'
import { CtlError } from '../errors.js'
import { packageRoot } from '../package-root.js'
import type { ResourceMeta, StackDefinition, StackRef } from '../manifest/model.js'
import { stackDefinitionFromBody } from './definition.js'

/** Orders `1.0` < `1.2` < `1.10` < `2.0`; numeric parts numerically, others as text; `v` prefix ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.replace(/^v/i, '').split(/[.\-+_]/)
  const pa = parts(a)
  const pb = parts(b)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i]
    const y = pb[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    const nx = /^\d+$/.test(x) ? Number(x) : NaN
    const ny = /^\d+$/.test(y) ? Number(y) : NaN
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
      if (nx !== ny) return nx - ny
    } else if (x !== y) {
      return x < y ? -1 : 1
    }
  }
  return 0
}

/** `container`, `container:1.0` → StackRef. */
export function parseStackRef(ref: string): StackRef {
  const i = ref.indexOf(':')
  return i < 0 ? { name: ref } : { name: ref.slice(0, i), version: ref.slice(i + 1) }
}

let builtinCache: StackDefinition[] | undefined

/** Reads a `type: stack` manifest text into a definition. */
export function stackDefinitionFromManifest(text: string, file: string): StackDefinition {
  const doc: unknown = yaml().parse(text)
  if (typeof doc !== 'object' || doc === null || (doc as { type?: unknown }).type !== 'stack') {
    throw new CtlError('E_INTERNAL', `${file}: not a type: stack manifest`)
  }
  const d = doc as Record<string, unknown>
  const meta: ResourceMeta = {
    name: String(d.name),
    version: 'v1alpha',
    type: 'stack',
    tags: Array.isArray(d.tags) ? d.tags.map(String) : [],
    layer: 'system',
  }
  if (typeof d.description === 'string') meta.description = d.description
  return stackDefinitionFromBody(meta, (d.stack ?? {}) as Record<string, unknown>)
}

/** The built-in stacks' files and a digest of their names and contents. */
function builtinSources(): { dir: string; files: string[]; texts: string[]; digest: string } {
  const dir = join(packageRoot(), 'stacks')
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : []
  const texts = files.map((f) => readFileSync(join(dir, f), 'utf8'))
  const hash = createHash('sha256')
  files.forEach((f, i) => hash.update(`${f}\0${texts[i]}\0`))
  return { dir, files, texts, digest: hash.digest('hex') }
}

const BUILT_FILE = 'builtin-stacks.generated.json'

/**
 * The built-ins, parsed and checked. The build (scripts/precompile.mjs) stores them as JSON next to this
 * module: parsing and checking the YAML costs a CLI process tens of milliseconds at every start. Used only
 * while the stacks/ files are the very ones it was made from.
 */
function loadBuiltins(): StackDefinition[] {
  if (builtinCache) return builtinCache
  const { dir, files, texts, digest } = builtinSources()
  let built: { digest?: string; stacks?: StackDefinition[] } | undefined
  try {
    built = JSON.parse(readFileSync(new URL(BUILT_FILE, import.meta.url), 'utf8')) as typeof built
  } catch {
    built = undefined // running from src/, or not built
  }
  builtinCache = built?.digest === digest && built.stacks ? built.stacks : files.map((f, i) => stackDefinitionFromManifest(texts[i]!, join(dir, f)))
  return builtinCache
}

/** What the build stores: the built-in stacks parsed and checked from the stacks/ files, with their digest. */
export function builtinStacksForBuild(): { file: string; digest: string; stacks: StackDefinition[] } {
  const { dir, files, texts, digest } = builtinSources()
  const stacks = files.map((f, i) => stackDefinitionFromManifest(texts[i]!, join(dir, f)))
  return { file: fileURLToPath(new URL(BUILT_FILE, import.meta.url)), digest, stacks }
}

export class StackRegistry {
  private readonly stacks = new Map<string, Map<string, StackDefinition>>()

  /** A new registry holding the built-in stacks (read from disk once per process). */
  static builtin(): StackRegistry {
    const r = new StackRegistry()
    for (const def of loadBuiltins()) r.add(def)
    return r
  }

  /** Adds a stack; the same name and version replaces the earlier one (an applied stack overrides a built-in). */
  add(def: StackDefinition): void {
    let versions = this.stacks.get(def.name)
    if (!versions) {
      versions = new Map()
      this.stacks.set(def.name, versions)
    }
    versions.set(def.version, def)
  }

  resolve(ref: StackRef): StackDefinition | undefined {
    const versions = this.stacks.get(ref.name)
    if (!versions) return undefined
    if (ref.version !== undefined) return versions.get(ref.version)
    const newest = this.versions(ref.name).at(-1)
    return newest === undefined ? undefined : versions.get(newest)
  }

  /** Versions of a stack, oldest first. */
  versions(name: string): string[] {
    return [...(this.stacks.get(name)?.keys() ?? [])].sort(compareVersions)
  }

  /** Every stack, by name then version (oldest first). */
  list(): StackDefinition[] {
    return [...this.stacks.keys()].sort().flatMap((name) => this.versions(name).map((v) => this.stacks.get(name)!.get(v)!))
  }

  clone(): StackRegistry {
    const r = new StackRegistry()
    for (const def of this.list()) r.add(def)
    return r
  }
}

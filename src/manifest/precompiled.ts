// Validators the build precompiled (scripts/compile-validators.mjs writes them next to this module
// as Ajv standalone code). Compiling the manifest schemas and the built-in stacks' stackSpec schemas
// costs a short-lived CLI process more than a tenth of a second at every start; the server, which
// compiles once, gains nothing but loses nothing either. Each entry is keyed by the exact schema
// text it was compiled from, so a schema changed after the build is compiled as usual.

import { createRequire } from 'node:module'
import type { ValidateFunction } from 'ajv'

/** Which Ajv made the validator: the manifest schemas (draft 2020-12) or stackSpec schemas (draft-07). */
export type PrecompiledKind = 'manifest' | 'stackspec'

interface Entry {
  kind: PrecompiledKind
  source: string
  validate: ValidateFunction
}

// An entry's validate is a getter: its code is required (compiled) on first use only.
let byKey: Map<string, Entry> | undefined

/** The build's validator for exactly this schema text, or undefined (not built, or another schema). */
export function precompiledValidator(kind: PrecompiledKind, source: string): ValidateFunction | undefined {
  if (!byKey) {
    byKey = new Map()
    try {
      const entries = (createRequire(import.meta.url)('./validators.generated.cjs') as { entries: Entry[] }).entries
      for (const e of entries) byKey.set(`${e.kind}\n${e.source}`, e)
    } catch {
      // Running from src/ (tests) or a build without it: everything compiles on first use.
    }
  }
  return byKey.get(`${kind}\n${source}`)?.validate
}

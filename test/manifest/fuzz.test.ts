// Property: lint — the core entry the CLI and the server use — never throws, whatever the manifest holds,
// and every problem it reports is a located issue with a stable code (never a stack trace).
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { offlineManifestContext } from '../../src/cli/offline.js'
import type { ManifestIssue } from '../../src/errors.js'
import { lintSources, lintValue } from '../../src/manifest/index.js'
import { exampleManifests, fuzzSettings, hostileValue, mutatedManifest } from '../support/fuzz.js'

const ctx = offlineManifestContext()
const examples = exampleManifests()
const ran = { mutated: 0, arbitrary: 0 }

afterAll(() => console.log(`lint fuzz: ${ran.mutated} mutated examples, ${ran.arbitrary} arbitrary inputs checked`))

function wellFormed(issues: readonly ManifestIssue[]): void {
  for (const i of issues) {
    expect(i.code).toMatch(/^E_[A-Z_]+$/)
    expect(typeof i.file).toBe('string')
    expect(Number.isInteger(i.line) && Number.isInteger(i.column)).toBe(true)
    expect(typeof i.path).toBe('string')
    expect(typeof i.message).toBe('string')
    expect(i.message).not.toMatch(/\n\s+at |node:internal|\.[jt]s:\d+:\d+/)
  }
}

describe('lint on generated manifests', () => {
  it('the examples themselves lint clean (the mutations start from valid documents)', () => {
    expect(examples.length).toBeGreaterThan(5)
    for (const e of examples) expect(lintValue(e, ctx).issues).toEqual([])
  })

  it('never throws on mutated examples, as a request value or as YAML text', () => {
    fc.assert(
      fc.property(mutatedManifest(examples), (manifest) => {
        ran.mutated++
        const asValue = lintValue(manifest, ctx)
        wellFormed(asValue.issues)
        let text: string
        try {
          text = stringify(manifest, { aliasDuplicateObjects: false })
        } catch {
          return // not every value has a YAML form (e.g. too deep for the writer); the value path was checked
        }
        // Large YAML costs seconds to write and read back; the value path above checked those.
        if (text.length > 100_000) return
        const asText = lintSources([{ file: 'fuzz.yaml', text }], ctx, { interpolate: true, env: { HOME: '/h' } })
        wellFormed(asText.issues)
        // The same checks either way: a document clean as a value is clean as text.
        if (asValue.issues.length === 0) expect(asText.issues).toEqual([])
      }),
      fuzzSettings('lint: mutated examples', 300),
    )
  })

  it('never throws on arbitrary values and arbitrary text', () => {
    fc.assert(
      fc.property(hostileValue(), fc.string({ maxLength: 400, unit: 'binary' }), (value, text) => {
        ran.arbitrary++
        wellFormed(lintValue(value, ctx).issues)
        wellFormed(lintSources([{ file: 'any.yaml', text }], ctx, { interpolate: true, env: {} }).issues)
      }),
      fuzzSettings('lint: arbitrary input', 300),
    )
  })
})

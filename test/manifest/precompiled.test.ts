// The build's precompiled validators and built-in stacks (scripts/precompile.mjs) must say exactly
// what compiling from the sources says: the built CLI uses them, the unit tests run from src/.
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { parse as parseYaml } from 'yaml'
import { describe, expect, it } from 'vitest'
import { AJV_OPTIONS, validatorSchemas } from '../../src/manifest/schemas.js'
import { builtinStacksForBuild } from '../../src/stack/registry.js'
import { STACKSPEC_AJV_OPTIONS } from '../../src/stack/validate.js'

const root = join(import.meta.dirname, '..', '..')
const built = createRequire(import.meta.url)(join(root, 'dist', 'src', 'manifest', 'validators.generated.cjs')) as {
  entries: { kind: string; source: string; validate: (v: unknown) => boolean & { errors?: unknown } }[]
}
const find = (kind: string, schema: unknown) => built.entries.find((e) => e.kind === kind && e.source === JSON.stringify(schema))

/** Every example manifest (valid and invalid ones) as plain values. */
function exampleValues(): unknown[] {
  const values: unknown[] = []
  for (const dir of ['examples', 'examples/invalid']) {
    for (const f of readdirSync(join(root, dir)).filter((n) => n.endsWith('.yaml'))) {
      for (const part of readFileSync(join(root, dir, f), 'utf8').split(/^---$/m)) {
        try {
          const v: unknown = parseYaml(part)
          if (v) values.push(v)
        } catch {
          // a deliberately broken YAML example: not a value to validate
        }
      }
    }
  }
  return values
}

describe('precompiled validators', () => {
  it('exist for every manifest schema as the sources compose it now, and judge every example as a fresh compile does', () => {
    const values = [...exampleValues(), {}, { name: 'x', version: 'v2alpha', type: 'workflow', spec: { dag: [{ name: 'a', spce: {} }] } }]
    expect(values.length).toBeGreaterThan(10)
    for (const schema of validatorSchemas()) {
      const entry = find('manifest', schema)
      expect(entry, `no precompiled validator for ${String(schema['$id'])}: rebuild`).toBeDefined()
      const ajv = new Ajv2020({ ...AJV_OPTIONS })
      ajv.addVocabulary(['x-hint'])
      const fresh = ajv.compile(schema)
      for (const v of values) {
        const a = entry!.validate(v)
        const b = fresh(v)
        expect(a).toBe(b)
        // Same errors, parent schemas included (the messages read them).
        expect(JSON.stringify((entry!.validate as unknown as { errors: unknown }).errors)).toBe(JSON.stringify(fresh.errors))
      }
    }
  })

  it('exist for the stackSpec schema of every built-in stack', () => {
    for (const stack of builtinStacksForBuild().stacks) {
      const entry = find('stackspec', stack.stackSpecJsonSchema)
      expect(entry, `no precompiled stackSpec validator for ${stack.name}`).toBeDefined()
      const fresh = new Ajv({ ...STACKSPEC_AJV_OPTIONS }).compile(stack.stackSpecJsonSchema)
      for (const v of [{}, { image: 'x' }, { image: 1, bogus: true }, { script: 'echo', interpreter: 'sh' }]) {
        expect(entry!.validate(v)).toBe(fresh(v))
      }
    }
  })

  it('stores the built-in stacks as parsing stacks/ gives them', () => {
    const fresh = builtinStacksForBuild()
    const stored = JSON.parse(readFileSync(join(root, 'dist', 'src', 'stack', 'builtin-stacks.generated.json'), 'utf8')) as { digest: string; stacks: unknown }
    expect(stored.digest).toBe(fresh.digest)
    expect(stored.stacks).toEqual(JSON.parse(JSON.stringify(fresh.stacks)))
  })
})

// Work a CLI process would otherwise repeat at every start, done once by the build and stored next
// to the built modules: the manifest validators and the built-in stacks' stackSpec validators as Ajv
// standalone code (src/manifest/precompiled.ts), and the built-in stacks parsed and checked
// (src/stack/registry.ts). Each is keyed by what it was made from (schema text, digest of stacks/),
// so a schema or stack changed after the build is compiled as usual rather than used stale.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Ajv } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import standaloneCode from 'ajv/dist/standalone/index.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const load = (rel) => import(pathToFileURL(join(root, 'dist', 'src', rel)).href)
const { validatorSchemas, AJV_OPTIONS } = await load('manifest/schemas.js')
const { builtinStacksForBuild } = await load('stack/registry.js')
const { STACKSPEC_AJV_OPTIONS } = await load('stack/validate.js')

const builtins = builtinStacksForBuild()
writeFileSync(builtins.file, JSON.stringify({ digest: builtins.digest, stacks: builtins.stacks }))

// Each validator in a file of its own, required when its schema is first used: a lint of one
// workflow compiles the workflow's validator, not the 400 KB of all of them.
const outDir = join(root, 'dist', 'src', 'manifest')
const codeDir = join(outDir, 'validators.generated')
rmSync(codeDir, { recursive: true, force: true })
mkdirSync(codeDir)
let count = 0

/** One validator's standalone code, in a file (and scope) of its own; its entry requires it on first use. */
function entry(kind, ajv, schema) {
  const code = standaloneCode.default(ajv, ajv.compile(schema))
  const file = `${count++}.cjs`
  writeFileSync(join(codeDir, file), `"use strict";\n// Written by scripts/precompile.mjs: do not edit.\n${code}\n`)
  const validate = `get validate() { const m = require(${JSON.stringify(`./validators.generated/${file}`)}); return m.default ?? m }`
  return `{ kind: ${JSON.stringify(kind)}, source: ${JSON.stringify(JSON.stringify(schema))}, ${validate} }`
}

const entries = []
for (const schema of validatorSchemas()) {
  const ajv = new Ajv2020({ ...AJV_OPTIONS, code: { source: true } })
  ajv.addVocabulary(['x-hint'])
  entries.push(entry('manifest', ajv, schema))
}
const seen = new Set()
for (const stack of builtins.stacks) {
  const source = JSON.stringify(stack.stackSpecJsonSchema)
  if (seen.has(source)) continue
  seen.add(source)
  entries.push(entry('stackspec', new Ajv({ ...STACKSPEC_AJV_OPTIONS, code: { source: true } }), stack.stackSpecJsonSchema))
}
const out = `"use strict";\n// Written by scripts/precompile.mjs: do not edit.\nexports.entries = [\n${entries.join(',\n')}\n]\n`
writeFileSync(join(outDir, 'validators.generated.cjs'), out)

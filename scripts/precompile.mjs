// Work a CLI process would otherwise repeat at every start, done once by the build and stored next
// to the built modules: the manifest validators and the built-in stacks' stackSpec validators as Ajv
// standalone code (src/manifest/precompiled.ts), and the built-in stacks parsed and checked
// (src/stack/registry.ts). Each is keyed by what it was made from (schema text, digest of stacks/),
// so a schema or stack changed after the build is compiled as usual rather than used stale.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Script } from 'node:vm'
import { Ajv } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import standaloneCode from 'ajv/dist/standalone/index.js'
import { CODE_CACHE_FUNCTIONS, sealedCodeCache } from './code-cache.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const load = (rel) => import(pathToFileURL(join(root, 'dist', 'src', rel)).href)
const { validatorSchemas, AJV_OPTIONS } = await load('manifest/schemas.js')
const { builtinStacksForBuild } = await load('stack/registry.js')
const { STACKSPEC_AJV_OPTIONS } = await load('stack/validate.js')

const builtins = builtinStacksForBuild()
writeFileSync(builtins.file, JSON.stringify({ digest: builtins.digest, stacks: builtins.stacks }))

// Each validator in a file of its own, loaded when its schema is first used: a lint of one workflow
// compiles the workflow's validator, not the 400 KB of all of them; and compiles it from V8's code
// cache (written below, as scripts/bundle-oclif.mjs does for oclif) when this very Node built it.
const outDir = join(root, 'dist', 'src', 'manifest')
const codeDir = join(outDir, 'validators.generated')
rmSync(codeDir, { recursive: true, force: true })
mkdirSync(codeDir)
let count = 0

/** One validator's standalone code, a CommonJS function in a file of its own; its entry loads it on first use. */
function entry(kind, ajv, schema) {
  const code = standaloneCode.default(ajv, ajv.compile(schema))
  const file = `${count++}.cjs`
  writeFileSync(join(codeDir, file), `(function (exports, require, module) {"use strict";\n${code}\n})\n`)
  return `{ kind: ${JSON.stringify(kind)}, source: ${JSON.stringify(JSON.stringify(schema))}, get validate() { return load(${JSON.stringify(file)}) } }`
}

/** The index's loader: the validator's function compiled with its code cache when V8 accepts it (else as usual). */
const LOADER = `const fs = require('node:fs')
const { join } = require('node:path')
const { Script } = require('node:vm')
${CODE_CACHE_FUNCTIONS}
const loaded = new Map()
function load(name) {
  let validate = loaded.get(name)
  if (validate) return validate
  const file = join(__dirname, 'validators.generated', name)
  const source = fs.readFileSync(file)
  const cache = codeCacheOf(fs, file, source)
  const mod = { exports: {} }
  new Script(source.toString('utf8'), { filename: file, cachedData: typeof cache === 'string' ? undefined : cache }).runInThisContext()(mod.exports, require, mod)
  validate = mod.exports.default ?? mod.exports
  loaded.set(name, validate)
  return validate
}
`

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
const out = `"use strict";\n// Written by scripts/precompile.mjs: do not edit.\n${LOADER}exports.entries = [\n${entries.join(',\n')}\n]\n`
writeFileSync(join(outDir, 'validators.generated.cjs'), out)

// The code caches: each validator compiled, run over the examples (so the functions a lint calls are
// compiled too), and V8's code for it saved next to it.
const { parseAllDocuments } = await import('yaml')
const samples = [{}]
for (const dir of ['examples', join('examples', 'invalid')]) {
  for (const f of readdirSync(join(root, dir)).filter((n) => /\.ya?ml$/.test(n))) {
    for (const doc of parseAllDocuments(readFileSync(join(root, dir, f), 'utf8'))) {
      try {
        samples.push(doc.toJS({ maxAliasCount: 100 }))
      } catch {
        // a deliberately broken example
      }
    }
  }
}
const requireHere = createRequire(join(outDir, 'validators.generated.cjs'))
for (let i = 0; i < count; i++) {
  const file = join(codeDir, `${i}.cjs`)
  const source = readFileSync(file)
  const script = new Script(source.toString('utf8'), { filename: file })
  const mod = { exports: {} }
  script.runInThisContext()(mod.exports, requireHere, mod)
  const validate = mod.exports.default ?? mod.exports
  for (const sample of samples) validate(sample)
  writeFileSync(`${file}.cache`, sealedCodeCache(source, script.createCachedData()))
}

// Replaces each command module tsc wrote (dist/commands/**/*.js) with one ES module holding the
// command and all of ctl's own code it imports. Node's ES module loader costs a CLI start ~0.5-1 ms
// of CPU per module (resolve, read, the nearest package.json, link), and `resource apply --wait`
// imported ~75 of ctl's modules. Runs after tsc (and after scripts/precompile.mjs, which imports dist/src),
// and before scripts/oclif-manifest.mjs, which loads these files.
//
// - Packages stay outside (`packages: 'external'`) and load as before. A bundle cannot make a
//   package lazy that a lazily imported module of ctl imports statically (the ES import moves to the
//   top of the bundle), so the build fails when a bundle would load a package at start that the
//   command did not load at start before: such a package goes through src/lazy-module.ts.
// - oclif is imported from dist/src/cli/oclif.js (its own bundle, scripts/bundle-oclif.mjs): the
//   process must hold one oclif, whose Command the commands extend.
// - A dynamic import of ctl's own code (apply's --wait and --dry-run) is bundled too; esbuild keeps it
//   lazy (its modules are evaluated on first import, with no file of their own to load).
// - No module of ctl may be both in a bundle and loaded from dist/src in one process (classes checked
//   with instanceof, such as CtlError, and module state must exist once). What a command run loads of
//   dist/src besides its bundle: oclif.js, the help class (which imports only oclif.js) and the
//   command_not_found hook (which runs instead of a command). `server start` is left as tsc wrote it:
//   it runs the control plane in its process (hundreds of modules, loaded once per server), whose
//   packages are loaded lazily by dynamic imports of ctl's modules (PostgreSQL, Kubernetes,
//   OpenTelemetry). The other commands reach the control plane's module only through runForeground,
//   which only `server start` calls: that import stays an import of dist/src, never made by them.
// - `import.meta.url` in a bundled module is rewritten to that module's own URL in dist/src, computed
//   from the bundle's: the modules that find files next to themselves (precompiled validators, built-in
//   stacks, the package root, createRequire; the local runtime's step host should a bundle ever hold
//   it) find the very same files as before, and the sources need not know whether they were bundled.
// - Each bundle is written over the command module it was built from, so paths relative to it
//   (oclif.js, import.meta.url) are computed from where it stays.
import { build } from 'esbuild'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const commandsDir = join(root, 'dist', 'commands')
const srcDir = join(root, 'dist', 'src')
const oclifModule = join(srcDir, 'cli', 'oclif.js')
const controlPlaneModule = join(srcDir, 'controlplane', 'control-plane.js')
const NOT_BUNDLED = [join(commandsDir, 'server', 'start.js')]
const BANNER = '// Bundled by scripts/bundle-commands.mjs: this command and the modules of ctl it imports.'

const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []))
const posixRelative = (from, to) => {
  const rel = relative(from, to).split(sep).join('/')
  return rel.startsWith('.') ? rel : `./${rel}`
}
const isPackage = (path) => !path.startsWith('.') && !path.startsWith('/') && !path.startsWith('node:')

/**
 * The packages a command imported at start before bundling: those imported statically by a module
 * of ctl reached from the command through static imports only (from esbuild's metafile).
 */
function packagesAtStart(metafile, entry) {
  const seen = new Set()
  const packages = new Set()
  const visit = (input) => {
    if (seen.has(input)) return
    seen.add(input)
    for (const imp of metafile.inputs[input]?.imports ?? []) {
      if (imp.kind !== 'import-statement') continue
      if (imp.external) {
        if (isPackage(imp.path)) packages.add(imp.path)
      } else visit(imp.path)
    }
  }
  visit(entry)
  return packages
}

/** Bundles one command over its module; returns its size. */
async function bundle(file) {
  const outDir = dirname(file)
  const ctlPlugin = {
    name: 'ctl',
    setup(b) {
      b.onResolve({ filter: /(^|\/)(oclif|control-plane)\.js$/ }, (args) => {
        const path = join(args.resolveDir, args.path)
        return path === oclifModule || path === controlPlaneModule ? { path: posixRelative(outDir, path), external: true } : undefined
      })
      b.onLoad({ filter: /\.js$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8')
        if (!args.path.startsWith(srcDir + sep) || !text.includes('import.meta.url')) return { contents: text, loader: 'js' }
        const own = `new URL(${JSON.stringify(posixRelative(outDir, args.path))}, import.meta.url).href`
        return { contents: text.replace(/\bimport\.meta\.url\b/g, own), loader: 'js' }
      })
    },
  }
  const result = await build({
    entryPoints: [file],
    outfile: file,
    write: false,
    allowOverwrite: true,
    metafile: true,
    absWorkingDir: root, // the metafile's paths are relative to it
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    plugins: [ctlPlugin],
    // tsc's source maps are followed: a bundle's map points at the TypeScript sources, as tsc's did
    // (Node reads them only under --enable-source-maps).
    sourcemap: 'linked',
    banner: { js: BANNER },
    logLevel: 'warning',
    legalComments: 'none',
  })
  const entry = relative(root, file).split(sep).join('/')
  const before = packagesAtStart(result.metafile, entry)
  const output = result.metafile.outputs[Object.keys(result.metafile.outputs).find((o) => o.endsWith('.js'))]
  const now = output.imports.filter((imp) => imp.kind === 'import-statement' && isPackage(imp.path)).map((imp) => imp.path)
  const added = now.filter((p) => !before.has(p))
  if (added.length > 0) {
    throw new Error(`bundle-commands: ${entry} would load ${added.join(', ')} at every start (imported statically by a module it imports lazily); load it through src/lazy-module.ts`)
  }
  for (const out of result.outputFiles) writeFileSync(out.path, out.contents)
  return result.outputFiles.find((o) => o.path === file)?.contents.length ?? 0
}

const all = files(commandsDir).filter((f) => !NOT_BUNDLED.includes(f))
if (all.length === 0) throw new Error('bundle-commands: no command in dist/commands; run tsc first')
// Run twice without tsc in between, the bundles are left as they are.
const entries = all.filter((f) => !readFileSync(f, 'utf8').startsWith(BANNER))
let bytes = 0
for (const size of await Promise.all(entries.map(bundle))) bytes += size
console.log(`bundled ${entries.length} of ${all.length} commands (${Math.round(bytes / 1024)} KB)`)

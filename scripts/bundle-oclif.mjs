// Replaces dist/src/cli/oclif.js (a re-export of @oclif/core) with one bundled
// ES module holding oclif and its dependencies: the CLI starts ~50 ms faster.
import { build } from 'esbuild'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const target = join(root, 'dist', 'src', 'cli', 'oclif.js')
await build({
  entryPoints: [target],
  outfile: target,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // oclif can load TypeScript sources in development setups; ctl never does.
  external: ['typescript', 'ts-node', 'tsx'],
  banner: { js: "import { createRequire as __ctlCreateRequire } from 'node:module'; const require = __ctlCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
})

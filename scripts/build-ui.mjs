// Bundles the web console (ui/) with esbuild into dist/ui: index.html, a hashed JS bundle and its CSS,
// everything inlined from node_modules (no CDN: it works offline). Prints the gzipped size and fails
// past the budget, so a heavy dependency cannot slip in unnoticed.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

export const UI_BUDGET_GZIP_BYTES = 300 * 1024
const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Builds dist/ui (or `outdir`); answers the files written and the gzipped size of JS + CSS. */
export async function buildUi({ outdir = join(root, 'dist', 'ui'), quiet = false, minify = true } = {}) {
  rmSync(outdir, { recursive: true, force: true })
  mkdirSync(outdir, { recursive: true })
  const result = await build({
    entryPoints: { app: join(root, 'ui', 'src', 'main.js'), style: join(root, 'ui', 'style.css') },
    bundle: true, minify, format: 'esm', target: ['es2022'], outdir,
    entryNames: '[name]-[hash]', assetNames: '[name]-[hash]', metafile: true, logLevel: 'warning',
    legalComments: 'none', define: { 'process.env.NODE_ENV': '"production"' },
  })
  const outputs = Object.keys(result.metafile.outputs).map((f) => join(root, f))
  const js = outputs.find((f) => f.endsWith('.js'))
  const css = outputs.find((f) => f.endsWith('.css'))
  const html = readFileSync(join(root, 'ui', 'index.html'), 'utf8').replace('__JS__', basename(js)).replace('__CSS__', basename(css))
  writeFileSync(join(outdir, 'index.html'), html)
  const gzipBytes = [js, css, join(outdir, 'index.html')].reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0)
  const rawBytes = [js, css].reduce((n, f) => n + readFileSync(f).length, 0)
  if (!quiet) process.stdout.write(`ui: ${basename(js)} ${basename(css)}: ${(rawBytes / 1024).toFixed(1)} KB, ${(gzipBytes / 1024).toFixed(1)} KB gzipped (budget ${UI_BUDGET_GZIP_BYTES / 1024} KB)\n`)
  if (gzipBytes > UI_BUDGET_GZIP_BYTES) throw new Error(`ui bundle is ${gzipBytes} bytes gzipped, over the ${UI_BUDGET_GZIP_BYTES}-byte budget`)
  return { js: basename(js), css: basename(css), gzipBytes, rawBytes }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildUi()

// Runs every benchmark in bench/*.bench.mjs one after another (never in the
// test suite) and writes each one's figures to bench/results/<name>.json.
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
mkdirSync(join(here, 'results'), { recursive: true })
const files = readdirSync(here).filter((f) => f.endsWith('.bench.mjs')).sort()
let failed = false
for (const file of files) {
  const name = file.replace(/\.bench\.mjs$/, '')
  if (only.length > 0 && !only.includes(name)) continue
  process.stdout.write(`bench ${name} ...\n`)
  const mod = await import(pathToFileURL(join(here, file)).href)
  const result = await mod.default()
  const record = { benchmark: name, date: new Date().toISOString(), node: process.version, machine: machine(), ...result }
  writeFileSync(join(here, 'results', `${name}.json`), JSON.stringify(record, null, 2) + '\n')
  for (const [key, target] of Object.entries(result.targets ?? {})) {
    // met: null marks a figure reported without a target of its own.
    const verdict = target.met === null ? '' : target.met ? 'met' : 'MISSED'
    if (target.met === false) failed = true
    process.stdout.write(`  ${key}: ${target.value} (target ${target.target}) ${verdict}\n`)
  }
}
if (failed) process.exitCode = 1

/** What the figures were measured on: a figure means little without it. */
function machine() {
  const cpus = os.cpus()
  return { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()}`, arch: os.arch() }
}

// Show every benchmark's latest figures in the README, between the bench markers.
import { readFileSync as readText } from 'node:fs'
const readme = join(here, '..', 'README.md')
const rows = readdirSync(join(here, 'results'))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .flatMap((f) => {
    const r = JSON.parse(readText(join(here, 'results', f), 'utf8'))
    const on = r.machine ? `${r.machine.cpu}, ${r.machine.cores} cores` : 'not recorded'
    return Object.entries(r.targets ?? {}).map(([key, t]) => `| ${r.benchmark} | ${key} | ${t.value} | ${t.target} | ${t.met === null ? '' : t.met ? 'met' : '**missed**'} | ${r.date.slice(0, 10)} | ${on} |`)
  })
const table = ['| benchmark | figure | value | target | | measured | on |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n')
const text = readText(readme, 'utf8')
const updated = text.replace(/<!-- bench:begin -->[\s\S]*<!-- bench:end -->/, `<!-- bench:begin -->\n${table}\n<!-- bench:end -->`)
if (updated !== text) writeFileSync(readme, updated)

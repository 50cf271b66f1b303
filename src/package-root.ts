// Where this ctl is installed: the folder holding its own package.json (name "ctl"), found from this
// module's location (src/ under vitest, dist/src/ when built). The one finder: schemas/, stacks/, bin/
// (the sandbox binds this folder read-only for the step host) and the version all start from it.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CtlError } from './errors.js'

let found: { root: string; version: string } | undefined

function find(): { root: string; version: string } {
  if (found) return found
  const here = fileURLToPath(import.meta.url)
  for (let dir = dirname(here); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      // A package.json of another name (a bundler's or a test's {"type":"module"}) is not ctl's: go on up.
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'ctl') return (found = { root: dir, version: pkg.version ?? '0.0.0' })
    }
    if (dirname(dir) === dir) throw new CtlError('E_INTERNAL', `cannot find ctl's package folder (its package.json) above ${here}`)
  }
}

export function packageRoot(): string {
  return find().root
}

/** ctl's version, from its package.json. */
export function packageVersion(): string {
  return find().version
}

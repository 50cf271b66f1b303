// The package version, read once from the package.json above this module (works from
// src/http under vitest and from dist/src/http when built).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

export function packageVersion(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'ctl') return (cached = pkg.version ?? '0.0.0')
    }
    const parent = dirname(dir)
    if (parent === dir) return (cached = '0.0.0')
    dir = parent
  }
}

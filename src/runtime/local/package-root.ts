// Where this ctl is installed, found from this module's own location (src/ under
// vitest, dist/src/ when built): the folder holding its package.json.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

export function packageRoot(): string {
  if (cached) return cached
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir)
  cached = dir
  return dir
}

// tsc compiles only .ts; copy the plain-JS files that run as their own
// processes (the local runtime's step host: every .mjs of its folder, and the
// redactor it imports) next to the compiled modules. Which of them the host
// needs is said once, in HOST_FILES (src/runtime/local/index.ts).
import { cpSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const local = 'src/runtime/local'
const files = readdirSync(join(root, local)).filter((f) => f.endsWith('.mjs')).map((f) => `${local}/${f}`)
for (const file of [...files, 'src/logs/redact.mjs']) {
  cpSync(join(root, file), join(root, 'dist', file))
}

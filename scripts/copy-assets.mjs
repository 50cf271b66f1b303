// tsc compiles only .ts; copy the plain-JS files that run as their own
// processes (the local runtime's supervisor) next to the compiled modules.
import { cpSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
for (const file of ['src/runtime/local/supervisor.mjs', 'src/runtime/local/step.mjs', 'src/runtime/local/step-log.mjs', 'src/runtime/local/step-files.mjs', 'src/logs/redact.mjs', 'src/runtime/local/outputs.mjs', 'src/runtime/local/spawn-client.mjs', 'src/runtime/local/host-socket.mjs', 'src/runtime/local/step-exit.mjs']) {
  cpSync(join(root, file), join(root, 'dist', file))
}

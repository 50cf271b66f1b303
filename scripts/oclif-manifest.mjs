// Writes oclif.manifest.json so that `ctl` starts without importing every
// command module (what `oclif manifest` does, without its heavy toolchain).
import { writeFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Plugin } from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const target = join(root, 'oclif.manifest.json')
rmSync(target, { force: true })
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true })
await plugin.load()
writeFileSync(target, JSON.stringify(plugin.manifest, null, 2) + '\n')
console.log(`wrote oclif.manifest.json (${Object.keys(plugin.manifest.commands).length} commands)`)

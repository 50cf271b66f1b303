#!/usr/bin/env node
// Entry point of the `ctl` CLI. Kept tiny: oclif comes as one bundled module
// (dist/src/cli/oclif.js, compiled from V8's code cache) and loads only the invoked
// command, found through the shipped oclif.manifest.json. The package root and its
// package.json are handed to oclif, so it neither searches for the root nor reads the
// file again; ctl has no plugin manager, so there are no user plugins to look for.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execute } from '../dist/src/cli/oclif.js'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
await execute({ loadOptions: { root, pjson, userPlugins: false, devPlugins: false } })

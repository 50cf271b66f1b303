#!/usr/bin/env node
// Entry point of the `ctl` CLI. Kept tiny: oclif comes as one bundled module
// (dist/src/cli/oclif.js) and loads only the invoked command, found through the
// shipped oclif.manifest.json.
import { execute } from '../dist/src/cli/oclif.js'

await execute({ dir: import.meta.url })

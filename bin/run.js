#!/usr/bin/env node
// Entry point of the `ctl` CLI. Kept tiny: oclif loads commands lazily from
// the shipped oclif.manifest.json, so a cold start does not import every command.
import { execute } from '@oclif/core/execute'

await execute({ dir: import.meta.url })

// The one door to oclif. Commands and the entry point import oclif from here
// only, so the build can replace this module with a single bundled file
// (scripts/bundle-oclif.mjs): ~100 CommonJS files resolved and compiled at every
// start cost more than the whole command. Under vitest it is the plain re-export.
export { execute } from '@oclif/core/execute'
export { Command } from '@oclif/core/command'
export * as Flags from '@oclif/core/flags'
export * as Args from '@oclif/core/args'
export * as Errors from '@oclif/core/errors'
export { Help } from '@oclif/core/help'

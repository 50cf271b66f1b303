// oclif's command_not_found hook: a mistyped command gets ctl's own one-line error with
// the nearest command (`error: unknown command "aply"; did you mean "apply"?`), exit 2 as
// every usage error, instead of oclif's `command aply not found`.
import type { Hook } from '@oclif/core/hooks'
import { ExitCode } from '../../errors.js'
import { didYouMean } from '../../manifest/suggest.js'

const hook: Hook.CommandNotFound = async function (options) {
  const words = options.id.split(':')
  const known = new Set<string>()
  for (const command of options.config.commands) {
    if (command.hidden) continue
    for (const id of [command.id, ...command.aliases]) known.add(id.replaceAll(':', ' '))
  }
  // oclif joins every word before the first flag into the id (`get:workflow:x` for an unknown
  // `get`): the longest leading words with a near command are what was mistyped.
  let typed = words.join(' ')
  let hit: string | undefined
  for (let n = words.length; n > 0 && hit === undefined; n--) {
    const prefix = words.slice(0, n).join(' ')
    hit = didYouMean(prefix, known)
    if (hit !== undefined) typed = prefix
  }
  process.stderr.write(`error: unknown command "${typed}"${hit === undefined ? '' : `; did you mean "${hit}"?`}\n`)
  process.stderr.write(`See '${options.config.bin} --help'.\n`)
  this.exit(ExitCode.usage)
}

export default hook

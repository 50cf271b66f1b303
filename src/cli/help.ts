// ctl's help class (package.json oclif.helpClass). Descriptions are written for 80
// columns (test/cli/help.test.ts holds them to it); oclif wraps them again at the
// terminal's width, which left a narrower terminal with ragged, twice-wrapped lines.
// Here a paragraph's hard line breaks are undone first, so oclif's wrap is the only
// one: at 80 columns the text prints as written, narrower or wider it flows.
import type { Command } from '@oclif/core/command'
import { Help } from './oclif.js'

/** The width descriptions are written for: 80 columns less oclif's indentation of 2. */
const WRITTEN_WIDTH = 78

/**
 * Joins the lines of a paragraph that its writer broke only because the next word did
 * not fit in 78 columns; a line broken with room to spare (a list, a table) stays.
 */
export function unwrapParagraphs(text: string): string {
  const out: string[] = []
  for (const line of text.split('\n')) {
    const previous = out.at(-1)
    const firstWord = line.split(' ')[0]!
    const wrapped = previous !== undefined && previous !== '' && firstWord !== '' && previous.length + 1 + firstWord.length > WRITTEN_WIDTH
    if (wrapped) out[out.length - 1] = `${previous} ${line}`
    else out.push(line)
  }
  return out.join('\n')
}

export default class CtlHelp extends Help {
  protected override formatCommand(command: Command.Loadable): string {
    return super.formatCommand(command.description ? { ...command, description: unwrapParagraphs(command.description) } : command)
  }
}

// Help text as a user reads it: every command has a one-line summary, a DESCRIPTION
// that oclif prints untouched at 80 columns (its lines, indented by 2, fit: no second
// wrapping, no ragged lines) and an example; every topic has a description of its own,
// keyed as oclif names topics (a key oclif does not match gets the first command's text).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { unwrapParagraphs } from '../../src/cli/help.js'
import { repoRoot, runCli } from './helpers.js'

interface ManifestCommand { id: string; summary?: string; description?: string; examples?: unknown[]; hidden?: boolean; aliases: string[] }

const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, ManifestCommand> }
const pjson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { oclif: { topics: Record<string, { description?: string }> } }
const commands = Object.values(manifest.commands).filter((c) => !c.hidden)
// oclif indents DESCRIPTION by 2 and wraps at the terminal width (80 when not a terminal).
const INDENT = 2

describe('every command\'s help', () => {
  it.each(commands.map((c) => [c.id.replaceAll(':', ' '), c] as const))('%s: summary, description for 80 columns, example', (_name, c) => {
    expect(c.summary?.trim(), 'summary').toBeTruthy()
    expect(c.summary, 'one-line summary').not.toContain('\n')
    expect(c.description?.trim(), 'description').toBeTruthy()
    for (const line of c.description!.split('\n')) expect(INDENT + line.length, `description line "${line}"`).toBeLessThanOrEqual(80)
    expect(c.description!.split('\n')[0], 'description repeats the summary').not.toBe(c.summary)
    expect(c.examples?.length ?? 0, 'examples').toBeGreaterThan(0)
  })

  // DESCRIPTION: the summary, a blank line, the description; the next section starts unindented.
  const descriptionOf = (help: string): string =>
    help.split('DESCRIPTION\n')[1]!.split(/\n\n(?=[A-Z])/)[0]!.split('\n\n').slice(1).join('\n\n').split('\n').map((l) => l.replace(/^ {2}/, '')).join('\n').trim()

  it('prints every description as written at 80 columns: wrapped once, by its writer', async () => {
    for (const c of commands) {
      const r = await runCli([...c.id.split(':'), '--help'], { env: { OCLIF_COLUMNS: '80' } })
      expect(descriptionOf(r.stdout), c.id).toBe(c.description)
    }
  }, 120_000)

  it('reflows a description for a narrower terminal instead of breaking each written line again', async () => {
    const r = await runCli(['resource', 'apply', '--help'], { env: { OCLIF_COLUMNS: '60' } })
    for (const paragraph of descriptionOf(r.stdout).split('\n\n')) {
      const lines = paragraph.split('\n')
      for (const line of lines) expect(2 + line.length).toBeLessThanOrEqual(60)
      // Ragged text has short lines inside a paragraph; flowed text only at its end.
      for (const line of lines.slice(0, -1)) expect(line.length, line).toBeGreaterThan(45)
    }
  })

  it('keeps short lines (lists) as they are', () => {
    expect(unwrapParagraphs(`${'a'.repeat(75)}\nrest of it.\n\nlist:\none\ntwo`)).toBe(`${'a'.repeat(75)} rest of it.\n\nlist:\none\ntwo`)
    // Broken with room for the next word: on purpose.
    expect(unwrapParagraphs(`${'a'.repeat(70)}\nb`)).toBe(`${'a'.repeat(70)}\nb`)
  })
})

describe('topics', () => {
  const topics = Object.entries(pjson.oclif.topics)
  const topicOf = (id: string): string => id.split(':').slice(0, -1).join(':')

  it.each(topics)('%s is a topic oclif knows, with a description none of its commands has', (name, topic) => {
    expect(name, 'topics are keyed with ":" as oclif names them').not.toContain(' ')
    const inside = commands.filter((c) => topicOf(c.id) === name || c.id.startsWith(`${name}:`))
    expect(inside.length, 'commands in the topic').toBeGreaterThan(0)
    expect(topic.description?.trim()).toBeTruthy()
    for (const c of inside) {
      expect(topic.description).not.toBe(c.summary)
      expect(topic.description).not.toBe(c.description?.split('\n')[0])
    }
  })

  it('every topic that holds commands has a description of its own', () => {
    const names = new Set(commands.map((c) => topicOf(c.id)).filter((t) => t !== ''))
    for (const c of commands) for (let i = 1; i < c.id.split(':').length; i++) names.add(c.id.split(':').slice(0, i).join(':'))
    for (const name of names) expect(pjson.oclif.topics[name]?.description, name).toBeTruthy()
  })

  it('ctl resource runtime --help shows the topic\'s own description', async () => {
    const r = await runCli(['resource', 'runtime', '--help'])
    expect(r.stdout.split('\n')[0]).toBe(pjson.oclif.topics['resource:runtime']!.description)
  })
})

describe('develop stack list', () => {
  it('shows an image in IMAGE, not the template, and says which one it chose', async () => {
    const r = await runCli(['develop', 'stack', 'list'])
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain('{{ if')
    expect(r.stdout).not.toContain('.ApplicationSpec')
    expect(r.stdout).toMatch(/^script\s+\| 1\.0\s+\| script\s+\| docker\.io\/library\/bash:5 \(default\)\s+\| bash \/etc\/ctl\/config\/script$/m)
    expect(r.stdout).toMatch(/^container\s+\| 1\.0\s+\| container \| \{\{ stackSpec\.image \}\}/m)
    for (const line of r.stdout.trim().split('\n')) expect(line.length).toBeLessThanOrEqual(120)
    const json = await runCli(['develop', 'stack', 'list', '-o', 'json'])
    expect(json.stdout).toContain('.ApplicationSpec.StackSpec.interpreter')
  })
})

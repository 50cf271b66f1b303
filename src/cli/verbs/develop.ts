// `ctl develop …`: tools for manifest authors.
import { CtlError } from '../../errors.js'
import { schemaFor, schemaIds } from '../../manifest/schemas.js'
import { StackRegistry } from '../../stack/registry.js'
import type { Io } from '../io.js'
import { renderTable, toJson, toYaml, type OutputFormat } from '../output.js'

export function runSchemaGet(options: { type: string; version: string }, io: Io): void {
  let schema: object
  try {
    schema = schemaFor(options.type, options.version)
  } catch (error) {
    if (error instanceof CtlError) throw error
    throw new CtlError('E_NOT_FOUND', `no schema for type "${options.type}" version "${options.version}"; known: ${schemaIds().join(', ')}`)
  }
  io.out(toJson(schema))
}

export function runStackList(options: { output: OutputFormat }, io: Io): void {
  const stacks = StackRegistry.builtin().list()
  if (options.output === 'json') return io.out(toJson(stacks))
  if (options.output === 'yaml') return io.out(toYaml(stacks))
  io.out(
    renderTable(
      ['NAME', 'VERSION', 'FLAVOR', 'IMAGE', 'COMMAND'],
      stacks.map((s) => [s.name, s.version, s.flavor ?? '', s.image, s.command.join(' ')]),
    ),
  )
}

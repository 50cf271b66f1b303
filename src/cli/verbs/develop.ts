// `ctl develop …`: tools for manifest authors.
import { CtlError } from '../../errors.js'
import { schemaFor, schemaIds } from '../../manifest/schemas.js'
import { resourceType } from '../../manifest/type-names.js'
import { StackRegistry } from '../../stack/registry.js'
import { renderTemplate } from '../../template/template.js'
import { applyStackSpecDefaults } from '../../stack/validate.js'
import type { StackDefinition } from '../../manifest/model.js'
import type { Io } from '../io.js'
import { printReport, renderTable, toJson, toYaml, type OutputFormat } from '../output.js'

export function runSchemaGet(options: { type: string; version: string; output: OutputFormat }, io: Io): void {
  let schema: object
  try {
    schema = schemaFor(resourceType(options.type), options.version)
  } catch (error) {
    if (error instanceof CtlError) throw error
    throw new CtlError('E_NOT_FOUND', `no schema for type "${options.type}" version "${options.version}"; known: ${schemaIds().join(', ')}`)
  }
  // JSON is the schema's own text: the default, and -o json alike.
  printReport(io, options.output, schema, () => io.out(toJson(schema)))
}

export function runStackList(options: { output: OutputFormat }, io: Io): void {
  const stacks = StackRegistry.builtin().list()
  if (options.output === 'json') return io.out(toJson(stacks))
  if (options.output === 'yaml') return io.out(toYaml(stacks))
  io.out(
    renderTable(
      ['NAME', 'VERSION', 'FLAVOR', 'IMAGE', 'COMMAND'],
      stacks.map((s) => [s.name, s.version, s.flavor ?? '', shownImage(s), s.command.map((c) => withDefaults(s, c) ?? c).join(' ')]),
    ),
  )
}

/**
 * A stack's image and command are templates over the step's stackSpec (script: one
 * image per interpreter). The table shows what they render to for a stackSpec holding
 * only the schema's defaults, the image marked `(default)`; an image with no default
 * (container: it is the step's) shows `{{ stackSpec.image }}`. -o json|yaml keep the
 * templates.
 */
function shownImage(stack: StackDefinition): string {
  if (!stack.image.includes('{{')) return stack.image
  const image = withDefaults(stack, stack.image)
  return image ? `${image} (default)` : '{{ stackSpec.image }}'
}

/** `source` rendered for a stackSpec of defaults only; undefined when it needs more. */
function withDefaults(stack: StackDefinition, source: string): string | undefined {
  if (!source.includes('{{')) return source
  try {
    return renderTemplate(source, { ApplicationSpec: { StackSpec: applyStackSpecDefaults(stack, {}) } }).trim() || undefined
  } catch {
    return undefined
  }
}

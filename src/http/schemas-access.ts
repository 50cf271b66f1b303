// Schemas for dry runs: the `dryRun` query flag of the routes that honour it, and the
// `dryRun: true` marker their answers carry (response schemas list every field: the
// serializer drops the rest).
import { deleteQuery } from './schemas.js'

const DRY_RUN = { type: 'boolean', default: false, description: 'Validate and authorize only; change nothing and answer what would be done' } as const

export const dryRunQuery = { type: 'object', properties: { dryRun: DRY_RUN } } as const
export const deleteDryRunQuery = { type: 'object', properties: { ...deleteQuery.properties, dryRun: DRY_RUN } } as const

type ObjectSchema = { type: 'object'; properties: Record<string, unknown> }

/** The response schema plus `dryRun` (present and true only on a dry run's answer). */
export function withDryRun<T extends ObjectSchema>(schema: T): ObjectSchema {
  return { ...schema, properties: { ...schema.properties, dryRun: { type: 'boolean' } } }
}

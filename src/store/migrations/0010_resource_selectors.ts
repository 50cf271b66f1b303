import type { Migration } from './types.js'

// What `get -l` and `get --tag` select on, next to the listing's other columns so that a filtered
// listing never reads manifests: `{"labels":{…},"tags":[…]}` of the current revision, NULL when the
// resource has neither. Filled for existing resources from their manifests.
export const migration: Migration = {
  version: 10,
  name: 'resource_selectors',
  sqlite: `
ALTER TABLE resources ADD COLUMN selectors TEXT;
UPDATE resources SET selectors = json_object(
    'labels', json(coalesce(json_extract(manifest, '$.meta.labels'), '{}')),
    'tags', json(coalesce(json_extract(manifest, '$.meta.tags'), '[]')))
  WHERE CASE WHEN json_valid(manifest)
    THEN json_extract(manifest, '$.meta.labels') IS NOT NULL OR json_array_length(coalesce(json_extract(manifest, '$.meta.tags'), '[]')) > 0
    ELSE 0 END;
`,
}

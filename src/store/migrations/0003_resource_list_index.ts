import type { Migration } from './types.js'

// Listings (`resource get -a` over 10,000 resources) read every column of `resources`
// except the manifest. In the table those columns sit behind the manifest, in overflow
// pages; this index holds all of them in listing order, so a listing is one scan of the
// index and never touches the table (listResources names it with INDEXED BY).
export const migration: Migration = {
  version: 3,
  name: 'resource_list_index',
  sqlite: `
CREATE INDEX resources_list ON resources
  (workspace, type, name, status, owner, id, version, revision, hash, status_reason, created_at, updated_at);
`,
}

import type { Migration } from './types.js'

// Identity and access. Notes on the shape:
// - role_bindings.workspace is '' for a tenant-wide binding (NULLs are distinct in keys).
// - api_keys keep only the sha256 of a token; lookups go by that hash (UNIQUE index).
// - users and workspaces are soft-deleted (deleted_at) so audit entries and owners keep
//   pointing at something; a later create of the same id revives the row.
// - audit.seq is the rowid: appends are cheap and ordered; `time` is indexed for --since.
// - A database from before identities existed has its admin key hash in meta: it becomes
//   the key of user `admin`, bound tenant-wide to tenant-admin, so that key keeps working.
export const migration: Migration = {
  version: 4,
  name: 'identity',
  sqlite: `
CREATE TABLE users (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  type       TEXT NOT NULL,
  email      TEXT,
  created_at TEXT NOT NULL,
  deleted_at TEXT
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (id),
  name         TEXT NOT NULL,
  hash         TEXT NOT NULL UNIQUE,
  created_at   TEXT NOT NULL,
  expires_at   TEXT,
  revoked_at   TEXT,
  last_used_at TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id, id);

CREATE TABLE role_bindings (
  user_id    TEXT NOT NULL REFERENCES users (id),
  role       TEXT NOT NULL,
  workspace  TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (user_id, role, workspace)
);
CREATE INDEX role_bindings_workspace ON role_bindings (workspace);

CREATE TABLE workspaces (
  name        TEXT PRIMARY KEY,
  description TEXT,
  layer       TEXT NOT NULL,
  tags        TEXT NOT NULL DEFAULT '[]',
  created_at  TEXT NOT NULL,
  deleted_at  TEXT
);

CREATE TABLE grants (
  resource_id TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  permission  TEXT NOT NULL,
  granted_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (resource_id, user_id, permission)
);
CREATE INDEX grants_user ON grants (user_id);

CREATE TABLE audit (
  seq    INTEGER PRIMARY KEY,
  time   TEXT NOT NULL,
  actor  TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  result TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX audit_time ON audit (time);

INSERT INTO workspaces (name, description, layer, tags, created_at) VALUES
  ('public', 'The shared workspace', 'user', '[]', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  ('system', 'Workspace of the platform itself', 'system', '[]', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

INSERT INTO users (id, name, type, created_at)
  SELECT 'admin', 'Tenant admin', 'person', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  FROM meta WHERE key = 'admin_key_sha256';
INSERT INTO role_bindings (user_id, role, workspace, created_by, created_at)
  SELECT 'admin', 'tenant-admin', '', 'admin', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  FROM meta WHERE key = 'admin_key_sha256';
INSERT INTO api_keys (id, user_id, name, hash, created_at)
  SELECT 'key-admin', 'admin', 'admin', value, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  FROM meta WHERE key = 'admin_key_sha256';
DELETE FROM meta WHERE key = 'admin_key_sha256';
`,
}

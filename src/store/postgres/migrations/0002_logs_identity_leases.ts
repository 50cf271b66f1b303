import type { PgMigration } from './index.js'

// Log chunks, identity and access (users, keys, bindings, workspaces, grants, audit), replicas,
// run leases, fire claims and counters: SQLite's migrations 2, 4 and 12 in PostgreSQL's types.
// - Times stay ISO-8601 UTC text, as in SQLite: they round-trip byte for byte and compare as text
//   exactly as they do there (lease expiry, audit --since, counter windows).
// - log_chunks.body: the lines encoded as `[seq,"time","stream","text"]\n` each (api/log-codec.ts),
//   also the HTTP wire format; chunks of one attempt are contiguous, keyed by (step_run_id, last_seq).
// - role_bindings.workspace is '' for a tenant-wide binding (NULLs are distinct in keys).
// - grants name resources and users without foreign keys, as in SQLite: a grant outlives neither
//   (deleteGrantsForResource, deleteUser) but may be written before the rows it names.
// - Text columns use the "C" collation: keys and times order byte-wise, as in SQLite, whatever the
//   database's locale.
// - `window` is a reserved word in PostgreSQL: the counters' column is time_window.
export const migration: PgMigration = {
  version: 2,
  name: 'logs_identity_leases',
  sql: `
CREATE TABLE log_chunks (
  step_run_id TEXT COLLATE "C" NOT NULL REFERENCES step_runs (id) ON DELETE CASCADE,
  first_seq   BIGINT NOT NULL,
  last_seq    BIGINT NOT NULL,
  body        BYTEA NOT NULL,
  PRIMARY KEY (step_run_id, last_seq)
);

CREATE TABLE users (
  id         TEXT COLLATE "C" PRIMARY KEY,
  name       TEXT COLLATE "C" NOT NULL,
  type       TEXT COLLATE "C" NOT NULL,
  email      TEXT COLLATE "C",
  created_at TEXT COLLATE "C" NOT NULL,
  deleted_at TEXT COLLATE "C"
);

CREATE TABLE api_keys (
  id           TEXT COLLATE "C" PRIMARY KEY,
  user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  name         TEXT COLLATE "C" NOT NULL,
  hash         TEXT COLLATE "C" NOT NULL UNIQUE,
  created_at   TEXT COLLATE "C" NOT NULL,
  expires_at   TEXT COLLATE "C",
  revoked_at   TEXT COLLATE "C",
  last_used_at TEXT COLLATE "C"
);
CREATE INDEX api_keys_user ON api_keys (user_id, id);

CREATE TABLE role_bindings (
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  role       TEXT COLLATE "C" NOT NULL,
  workspace  TEXT COLLATE "C" NOT NULL,
  created_by TEXT COLLATE "C" NOT NULL,
  created_at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, role, workspace)
);
CREATE INDEX role_bindings_workspace ON role_bindings (workspace);

CREATE TABLE workspaces (
  name        TEXT COLLATE "C" PRIMARY KEY,
  description TEXT COLLATE "C",
  layer       TEXT COLLATE "C" NOT NULL,
  tags        TEXT COLLATE "C" NOT NULL DEFAULT '[]',
  created_at  TEXT COLLATE "C" NOT NULL,
  deleted_at  TEXT COLLATE "C"
);

CREATE TABLE grants (
  resource_id TEXT COLLATE "C" NOT NULL,
  user_id     TEXT COLLATE "C" NOT NULL,
  permission  TEXT COLLATE "C" NOT NULL,
  granted_by  TEXT COLLATE "C" NOT NULL,
  created_at  TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (resource_id, user_id, permission)
);
CREATE INDEX grants_user ON grants (user_id);

CREATE TABLE audit (
  seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time   TEXT COLLATE "C" NOT NULL,
  actor  TEXT COLLATE "C" NOT NULL,
  action TEXT COLLATE "C" NOT NULL,
  target TEXT COLLATE "C" NOT NULL,
  result TEXT COLLATE "C" NOT NULL,
  detail TEXT COLLATE "C"
);
CREATE INDEX audit_time ON audit (time);

INSERT INTO workspaces (name, description, layer, tags, created_at) VALUES
  ('public', 'The shared workspace', 'user', '[]', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
  ('system', 'Workspace of the platform itself', 'system', '[]', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));

CREATE TABLE replicas (
  id           TEXT COLLATE "C" PRIMARY KEY,
  host         TEXT COLLATE "C" NOT NULL,
  pid          INTEGER NOT NULL,
  url          TEXT COLLATE "C",
  version      TEXT COLLATE "C" NOT NULL,
  started_at   TEXT COLLATE "C" NOT NULL,
  heartbeat_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE run_leases (
  run_id     TEXT COLLATE "C" PRIMARY KEY,
  owner      TEXT COLLATE "C" NOT NULL,
  expires_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX run_leases_by_owner ON run_leases (owner);

CREATE TABLE fire_claims (
  fire_key   TEXT COLLATE "C" NOT NULL,
  fire_at    TEXT COLLATE "C" NOT NULL,
  owner      TEXT COLLATE "C" NOT NULL,
  claimed_at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (fire_key, fire_at)
);
CREATE INDEX fire_claims_by_time ON fire_claims (fire_at);

CREATE TABLE counters (
  counter_key TEXT COLLATE "C" NOT NULL,
  time_window TEXT COLLATE "C" NOT NULL,
  value       BIGINT NOT NULL,
  PRIMARY KEY (counter_key, time_window)
);
CREATE INDEX counters_by_window ON counters (time_window);
`,
}

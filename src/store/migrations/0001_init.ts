import type { Migration } from './types.js'

// Notes on the shape:
// - workspace is '' for instance-level resources: NULLs are distinct in UNIQUE
//   constraints, and (workspace, type, name) must be unique for those too.
// - The current manifest is kept on `resources` (one read for get/list) and every
//   revision's manifest on `resource_revisions` (immutable history).
// - log_lines is keyed by (step_run_id, seq) without a rowid: the key is the read
//   order, so tailing and paging a 100 MB log are range scans. stream is 0/1/2.
export const migration: Migration = {
  version: 1,
  name: 'init',
  sqlite: `
CREATE TABLE resources (
  id            TEXT PRIMARY KEY,
  workspace     TEXT NOT NULL,
  type          TEXT NOT NULL,
  name          TEXT NOT NULL,
  version       TEXT NOT NULL,
  revision      INTEGER NOT NULL,
  hash          TEXT NOT NULL,
  manifest      TEXT NOT NULL,
  owner         TEXT NOT NULL,
  status        TEXT NOT NULL,
  status_reason TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  UNIQUE (workspace, type, name)
);
CREATE INDEX resources_type_name ON resources (type, name);

CREATE TABLE resource_revisions (
  resource_id TEXT NOT NULL REFERENCES resources (id),
  revision    INTEGER NOT NULL,
  version     TEXT NOT NULL,
  hash        TEXT NOT NULL,
  manifest    TEXT NOT NULL,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (resource_id, revision)
);

CREATE TABLE runs (
  id              TEXT PRIMARY KEY,
  resource_id     TEXT NOT NULL REFERENCES resources (id),
  revision        INTEGER NOT NULL,
  run_trigger     TEXT NOT NULL,
  state           TEXT NOT NULL,
  reason          TEXT,
  scheduled_at    TEXT,
  late_by_seconds REAL,
  retry_of        TEXT,
  created_at      TEXT NOT NULL,
  started_at      TEXT,
  finished_at     TEXT
);
CREATE INDEX runs_resource ON runs (resource_id, id);
CREATE INDEX runs_state ON runs (state, id);

CREATE TABLE step_runs (
  id             TEXT PRIMARY KEY,
  run_id         TEXT NOT NULL REFERENCES runs (id),
  step           TEXT NOT NULL,
  attempt        INTEGER NOT NULL,
  state          TEXT NOT NULL,
  exit_code      INTEGER,
  reason         TEXT,
  message        TEXT,
  runtime_handle TEXT,
  log_offset     INTEGER NOT NULL DEFAULT 0,
  log_seq        INTEGER NOT NULL DEFAULT 0,
  not_before     TEXT,
  created_at     TEXT NOT NULL,
  started_at     TEXT,
  finished_at    TEXT,
  UNIQUE (run_id, step, attempt)
);
CREATE INDEX step_runs_state ON step_runs (state);
CREATE INDEX step_runs_finished ON step_runs (finished_at);

CREATE TABLE log_lines (
  step_run_id TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  time        TEXT NOT NULL,
  stream      INTEGER NOT NULL,
  text        TEXT NOT NULL,
  PRIMARY KEY (step_run_id, seq)
) WITHOUT ROWID;

CREATE TABLE schedules (
  resource_id  TEXT PRIMARY KEY REFERENCES resources (id),
  revision     INTEGER NOT NULL,
  next_fire_at TEXT,
  last_fire_at TEXT,
  updated_at   TEXT NOT NULL
);

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`,
}

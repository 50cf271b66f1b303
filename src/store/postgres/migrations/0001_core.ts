import type { PgMigration } from './index.js'

// Resources and revisions, runs and step attempts, schedules, backfills, meta: the schema SQLite's
// migrations 0001..0011 built, in one step. Notes on the shape:
// - Every text column is COLLATE "C": ids, names and ISO times must sort byte-wise, as in SQLite,
//   whatever locale the database was created with (`ORDER BY id` is creation order).
// - Times are ISO-8601 TEXT (the records' exact strings); JSON is TEXT, so a record reads back the
//   very text it wrote (JSONB would reorder keys and drop duplicates).
// - workspace is '' for instance-level resources (NULLs are distinct in UNIQUE constraints).
// - log_offset / log_seq are BIGINT (a log may pass 2 GiB); the rows module reads them as numbers.
// - resources_list holds every column of a listing in listing order: `get -a` over 10,000 resources
//   is an index-only scan with no sort (a sort of 10,000 rows costs tens of milliseconds).
// - resources.last_run_id is the newest (greatest) run id of the resource, set by createRun: a listing
//   finds the newest run of 10,000 workflows by one join, not 10,000 seeks in runs (SQLite scans
//   runs (resource_id, id) instead, which grows with every run ever made).
export const migration: PgMigration = {
  version: 1,
  name: 'core',
  sql: `
CREATE TABLE resources (
  id            TEXT COLLATE "C" PRIMARY KEY,
  workspace     TEXT COLLATE "C" NOT NULL,
  type          TEXT COLLATE "C" NOT NULL,
  name          TEXT COLLATE "C" NOT NULL,
  version       TEXT COLLATE "C" NOT NULL,
  revision      INTEGER NOT NULL,
  hash          TEXT COLLATE "C" NOT NULL,
  manifest      TEXT NOT NULL,
  owner         TEXT COLLATE "C" NOT NULL,
  status        TEXT COLLATE "C" NOT NULL,
  status_reason TEXT,
  created_at    TEXT COLLATE "C" NOT NULL,
  updated_at    TEXT COLLATE "C" NOT NULL,
  selectors     TEXT,
  last_run_id   TEXT COLLATE "C",
  UNIQUE (workspace, type, name)
);
CREATE INDEX resources_type_name ON resources (type, name);
CREATE INDEX resources_list ON resources (workspace, type, name)
  INCLUDE (status, owner, id, version, revision, hash, status_reason, created_at, updated_at);

CREATE TABLE resource_revisions (
  resource_id TEXT COLLATE "C" NOT NULL REFERENCES resources (id),
  revision    INTEGER NOT NULL,
  version     TEXT COLLATE "C" NOT NULL,
  hash        TEXT COLLATE "C" NOT NULL,
  manifest    TEXT NOT NULL,
  created_by  TEXT COLLATE "C" NOT NULL,
  created_at  TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (resource_id, revision)
);

CREATE TABLE runs (
  id              TEXT COLLATE "C" PRIMARY KEY,
  resource_id     TEXT COLLATE "C" NOT NULL REFERENCES resources (id),
  revision        INTEGER NOT NULL,
  run_trigger     TEXT COLLATE "C" NOT NULL,
  state           TEXT COLLATE "C" NOT NULL,
  reason          TEXT,
  scheduled_at    TEXT COLLATE "C",
  late_by_seconds DOUBLE PRECISION,
  retry_of        TEXT COLLATE "C",
  params          TEXT,
  created_at      TEXT COLLATE "C" NOT NULL,
  started_at      TEXT COLLATE "C",
  finished_at     TEXT COLLATE "C"
);
CREATE INDEX runs_resource ON runs (resource_id, id);
CREATE INDEX runs_state ON runs (state, id);

CREATE TABLE step_runs (
  id             TEXT COLLATE "C" PRIMARY KEY,
  run_id         TEXT COLLATE "C" NOT NULL REFERENCES runs (id),
  step           TEXT COLLATE "C" NOT NULL,
  attempt        INTEGER NOT NULL,
  state          TEXT COLLATE "C" NOT NULL,
  exit_code      INTEGER,
  reason         TEXT,
  message        TEXT,
  runtime_handle TEXT,
  log_offset     BIGINT NOT NULL DEFAULT 0,
  log_seq        BIGINT NOT NULL DEFAULT 0,
  not_before     TEXT COLLATE "C",
  created_at     TEXT COLLATE "C" NOT NULL,
  started_at     TEXT COLLATE "C",
  finished_at    TEXT COLLATE "C",
  kept_from      TEXT COLLATE "C",
  outputs        TEXT,
  parent_step    TEXT COLLATE "C",
  instance       TEXT,
  approval       TEXT,
  UNIQUE (run_id, step, attempt)
);
CREATE INDEX step_runs_state ON step_runs (state);
CREATE INDEX step_runs_finished ON step_runs (finished_at);

CREATE TABLE schedules (
  resource_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES resources (id),
  revision     INTEGER NOT NULL,
  next_fire_at TEXT COLLATE "C",
  last_fire_at TEXT COLLATE "C",
  updated_at   TEXT COLLATE "C" NOT NULL
);

CREATE TABLE backfills (
  id          TEXT COLLATE "C" PRIMARY KEY,
  resource_id TEXT COLLATE "C" NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
  run_trigger TEXT COLLATE "C" NOT NULL,
  parallel    INTEGER NOT NULL,
  state       TEXT COLLATE "C" NOT NULL,
  created_by  TEXT COLLATE "C" NOT NULL,
  created_at  TEXT COLLATE "C" NOT NULL,
  finished_at TEXT COLLATE "C"
);
CREATE INDEX backfills_by_state ON backfills (state, id);
CREATE INDEX backfills_by_resource ON backfills (resource_id, id);

CREATE TABLE backfill_times (
  backfill_id TEXT COLLATE "C" NOT NULL REFERENCES backfills (id) ON DELETE CASCADE,
  fire_at     TEXT COLLATE "C" NOT NULL,
  state       TEXT COLLATE "C" NOT NULL,
  run_id      TEXT COLLATE "C",
  PRIMARY KEY (backfill_id, fire_at)
);

CREATE TABLE meta (
  key   TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);
`,
}

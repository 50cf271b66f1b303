import type { Migration } from './types.js'

// Backfills (`runtime backfill`) and catch-up after downtime (`schedule.catchUp: all`): the fire
// times still to run are stored, so a control-plane restart goes on where it stopped. A time is
// `pending`, then `starting` (claimed: its run is being created), then `started` with the run's id;
// a restart finds a `starting` time's run by (workflow, trigger, scheduled time) before making one.
export const migration: Migration = {
  version: 11,
  name: 'backfills',
  sqlite: `
CREATE TABLE backfills (
  id          TEXT PRIMARY KEY,
  resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  run_trigger TEXT NOT NULL,
  parallel    INTEGER NOT NULL,
  state       TEXT NOT NULL,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX backfills_by_state ON backfills (state, id);
CREATE TABLE backfill_times (
  backfill_id TEXT NOT NULL REFERENCES backfills(id) ON DELETE CASCADE,
  fire_at     TEXT NOT NULL,
  state       TEXT NOT NULL,
  run_id      TEXT,
  PRIMARY KEY (backfill_id, fire_at)
);
`,
}

import type { Migration } from './types.js'

// Several control planes on one store (issue 13): the replicas' heartbeats, one lease row per owned
// run (taken over once it expires), and one claim row per fire time so a schedule fires once
// whatever the number of replicas, and
// counters for limits shared by the replicas (failed authentications).
export const migration: Migration = {
  version: 12,
  name: 'replicas',
  sqlite: `
CREATE TABLE replicas (
  id           TEXT PRIMARY KEY,
  host         TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  url          TEXT,
  version      TEXT NOT NULL,
  started_at   TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
);
CREATE TABLE run_leases (
  run_id     TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX run_leases_by_owner ON run_leases (owner);
CREATE TABLE fire_claims (
  fire_key   TEXT NOT NULL,
  fire_at    TEXT NOT NULL,
  owner      TEXT NOT NULL,
  claimed_at TEXT NOT NULL,
  PRIMARY KEY (fire_key, fire_at)
);
CREATE TABLE counters (
  counter_key TEXT NOT NULL,
  window      TEXT NOT NULL,
  value       INTEGER NOT NULL,
  PRIMARY KEY (counter_key, window)
);
CREATE INDEX counters_by_window ON counters (window);
`,
}

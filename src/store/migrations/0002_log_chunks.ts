import type { Migration } from './types.js'

// Log lines move from one row per line to one row per chunk of lines: a 100 MB log is
// ~1,000 rows instead of 1M, so reading it is a few hundred blob copies, and an append
// of a batch is one or two row writes instead of one per line.
// - body: the lines encoded as `[seq,"time","stream","text"]\n` each (see log-codec.ts),
//   which is also the HTTP wire format, so reads go out without re-encoding.
// - Chunks of one step attempt are contiguous and never overlap: first_seq..last_seq.
//   Keyed by (step_run_id, last_seq), so "lines after seq N" is a seek to the first
//   chunk with last_seq > N, then a slice of that one chunk.
// - A rowid table (not WITHOUT ROWID): rows are up to ~128 KiB and belong in overflow
//   pages, not inside the index b-tree.
// Existing lines are carried over in chunks of 1,000.
export const migration: Migration = {
  version: 2,
  name: 'log_chunks',
  sqlite: `
CREATE TABLE log_chunks (
  step_run_id TEXT NOT NULL,
  first_seq   INTEGER NOT NULL,
  last_seq    INTEGER NOT NULL,
  body        BLOB NOT NULL,
  PRIMARY KEY (step_run_id, last_seq)
);

INSERT INTO log_chunks (step_run_id, first_seq, last_seq, body)
SELECT step_run_id, MIN(seq), MAX(seq),
       CAST(group_concat(
         json_array(seq, time, CASE stream WHEN 0 THEN 'stdout' WHEN 1 THEN 'stderr' ELSE 'system' END, text) || char(10),
         '' ORDER BY seq) AS BLOB)
FROM log_lines
GROUP BY step_run_id, (seq - 1) / 1000;

DROP TABLE log_lines;
`,
}

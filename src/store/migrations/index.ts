import { migration as m0001 } from './0001_init.js'
import { migration as m0002 } from './0002_log_chunks.js'
import { migration as m0003 } from './0003_resource_list_index.js'
import { migration as m0004 } from './0004_identity.js'
import { migration as m0005 } from './0005_step_kept_from.js'
import { migration as m0006 } from './0006_run_params.js'
import { migration as m0007 } from './0007_step_outputs.js'
import { migration as m0008 } from './0008_step_instances.js'
import { migration as m0009 } from './0009_step_approval.js'
import { migration as m0010 } from './0010_resource_selectors.js'
import { migration as m0011 } from './0011_backfills.js'
import { migration as m0012 } from './0012_replicas.js'
import { migration as m0013 } from './0013_run_trace_id.js'
import type { Migration } from './types.js'

export type { Migration } from './types.js'

/** Every migration, in order. Add new ones at the end. */
export const MIGRATIONS: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0008, m0009, m0010, m0011, m0012, m0013]

/** The schema version this code writes; a database above it is refused. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0)

// The store's public surface: callers import from here, never from sqlite-*.ts.
export type * from './types.js'
export { FINAL_RUN_STATES, FINAL_STEP_STATES } from './types.js'
export { openSqliteStore, LATEST_SCHEMA_VERSION, type SqliteOptions } from './sqlite.js'
export { canonicalHash, canonicalJson } from './hash.js'
export { openStore, storeKindOf, sqliteFileOf, type OpenStoreOptions, type StoreKind } from './open.js'

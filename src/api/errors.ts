// Error codes and located issues as the HTTP API carries them (the `error` body). The canonical list of
// codes lives here, at the bottom, so src/errors.ts and the wire share it; src/api imports nothing of ctl.

/** Stable error codes. Never rename one: scripts and tests match on them. */
export type ErrorCode =
  // loading
  | 'E_FILE'
  | 'E_YAML_SYNTAX'
  | 'E_YAML_LIMIT'
  | 'E_INTERPOLATION'
  // schema
  | 'E_SCHEMA'
  | 'E_UNKNOWN_FIELD'
  | 'E_UNKNOWN_TYPE'
  | 'E_UNKNOWN_VERSION'
  // semantics
  | 'E_NAME'
  | 'E_DUPLICATE_STEP'
  | 'E_DUPLICATE_RESOURCE'
  | 'E_UNKNOWN_DEPENDENCY'
  | 'E_CYCLE'
  | 'E_TRIGGER_RULE'
  | 'E_CRON'
  | 'E_TIMEZONE'
  | 'E_END_ON'
  | 'E_UNKNOWN_STACK'
  | 'E_STACK_SPEC'
  | 'E_STACK_TEMPLATE'
  | 'E_UNKNOWN_COMPUTE'
  | 'E_PROJECTION'
  | 'E_SECRET'
  | 'E_VOLUME'
  | 'E_DURATION'
  | 'E_LIMIT'
  | 'E_TEMPLATE'
  | 'E_EXPR'
  | 'E_PARAMS'
  | 'E_LABEL'
  | 'E_TRIGGER'
  // lifecycle / API
  | 'E_USAGE'
  | 'E_NOT_FOUND'
  | 'E_CONFLICT'
  | 'E_UNAUTHENTICATED'
  | 'E_FORBIDDEN'
  | 'E_UNAVAILABLE'
  | 'E_TOO_LARGE'
  | 'E_RATE_LIMITED'
  | 'E_INTERNAL'

/** Where in which manifest a problem is. `path` is a JSON path such as `spec.dag[1].depends[0]`. */
export interface SourceLocation {
  file: string
  line: number
  column: number
  path: string
}

/** One located problem in a manifest. Several are collected and reported together. */
export interface ManifestIssue extends SourceLocation {
  code: ErrorCode
  message: string
}

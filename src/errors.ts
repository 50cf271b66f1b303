// Typed errors with stable codes. Every error a user can cause carries a code
// and maps to one CLI exit code (see DESIGN.md, Conventions), so the CLI never
// has to guess from a message and never prints a stack trace for user mistakes.

export const ExitCode = {
  ok: 0,
  invalid: 1,
  usage: 2,
  notFound: 3,
  forbidden: 4,
  unavailable: 5,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

export type { ErrorCode, SourceLocation, ManifestIssue } from './api/errors.js'
import type { ErrorCode, ManifestIssue } from './api/errors.js'

const exitCodeOf: Partial<Record<ErrorCode, ExitCode>> = {
  E_USAGE: ExitCode.usage,
  E_NOT_FOUND: ExitCode.notFound,
  E_UNAUTHENTICATED: ExitCode.forbidden,
  E_FORBIDDEN: ExitCode.forbidden,
  E_RATE_LIMITED: ExitCode.forbidden,
  E_UNAVAILABLE: ExitCode.unavailable,
  E_INTERNAL: ExitCode.unavailable,
}

export function exitCodeFor(code: ErrorCode): ExitCode {
  return exitCodeOf[code] ?? ExitCode.invalid
}

export class CtlError extends Error {
  readonly code: ErrorCode
  readonly details?: Record<string, unknown>
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message)
    this.name = 'CtlError'
    this.code = code
    this.details = details
  }
  get exitCode(): ExitCode {
    return exitCodeFor(this.code)
  }
}

/** `FILE:LINE:COL  message (path)` — the one way a manifest problem is printed. */
export function formatIssue(issue: ManifestIssue): string {
  // About a whole file (missing, unreadable): no position to show, so none is invented.
  if (issue.line === 0 && !issue.path) return `${issue.message}: ${issue.file}`
  const where = `${issue.file}:${issue.line}:${issue.column}`
  return issue.path ? `${where}  ${issue.message} (${issue.path})` : `${where}  ${issue.message}`
}

/** All problems of one lint / apply, across every file. */
export class ManifestError extends CtlError {
  readonly issues: ManifestIssue[]
  constructor(issues: ManifestIssue[]) {
    const first = issues[0]
    super(first?.code ?? 'E_SCHEMA', issues.map(formatIssue).join('\n'), { issues })
    this.name = 'ManifestError'
    this.issues = issues
  }
  /** Forbidden (4) when every issue is a refusal (a secret or volume the caller or owner may not use); else invalid (1). */
  override get exitCode(): ExitCode {
    return isForbiddenOnly(this.issues) ? ExitCode.forbidden : ExitCode.invalid
  }
}

/** Whether all of these issues are E_FORBIDDEN (then the API answers 403 and the CLI exits 4). */
export function isForbiddenOnly(issues: readonly { code: ErrorCode }[]): boolean {
  return issues.length > 0 && issues.every((i) => i.code === 'E_FORBIDDEN')
}

export function isCtlError(value: unknown): value is CtlError {
  return value instanceof CtlError
}

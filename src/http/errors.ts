// One place maps every error to an HTTP status and the `{error: {code, message, issues?}}`
// body. Handlers just throw CtlError; users never see internals or stack traces.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { CtlError, ManifestError, isForbiddenOnly, type ErrorCode } from '../errors.js'
import type { ApiIssue, ErrorBody } from '../api/types.js'

const MANIFEST_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_FILE', 'E_YAML_SYNTAX', 'E_YAML_LIMIT', 'E_INTERPOLATION', 'E_SCHEMA', 'E_UNKNOWN_FIELD', 'E_UNKNOWN_TYPE',
  'E_UNKNOWN_VERSION', 'E_NAME', 'E_DUPLICATE_STEP', 'E_DUPLICATE_RESOURCE', 'E_UNKNOWN_DEPENDENCY', 'E_CYCLE', 'E_CRON',
  'E_TIMEZONE', 'E_END_ON', 'E_UNKNOWN_STACK', 'E_STACK_SPEC', 'E_STACK_TEMPLATE', 'E_UNKNOWN_COMPUTE', 'E_PROJECTION',
  'E_SECRET', 'E_VOLUME', 'E_DURATION', 'E_LIMIT', 'E_TEMPLATE', 'E_EXPR', 'E_PARAMS', 'E_LABEL', 'E_TRIGGER',
])

export function statusForCode(code: ErrorCode): number {
  switch (code) {
    case 'E_USAGE': return 400
    case 'E_UNAUTHENTICATED': return 401
    case 'E_FORBIDDEN': return 403
    case 'E_NOT_FOUND': return 404
    case 'E_CONFLICT': return 409
    case 'E_TOO_LARGE': return 413
    case 'E_RATE_LIMITED': return 429
    case 'E_UNAVAILABLE': return 503
    case 'E_INTERNAL': return 500
    default: return MANIFEST_CODES.has(code) ? 422 : 500
  }
}

export function errorBody(code: ErrorCode, message: string, issues?: ApiIssue[]): ErrorBody {
  return issues ? { error: { code, message, issues } } : { error: { code, message } }
}

/** Translates Fastify's own errors (body limit, bad JSON, schema validation) into ours. */
function fromFastifyError(err: FastifyError): CtlError | undefined {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new CtlError('E_TOO_LARGE', 'request body is too large')
  if (err.validation) return new CtlError('E_USAGE', `invalid request: ${err.message}`)
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    if (err.statusCode === 413) return new CtlError('E_TOO_LARGE', err.message)
    if (err.statusCode === 404) return new CtlError('E_NOT_FOUND', err.message)
    if (err.statusCode === 415) return new CtlError('E_USAGE', `unsupported content type: ${err.message}`)
    return new CtlError('E_USAGE', err.message)
  }
  return undefined
}

/** Fastify's `maxParamLength` (its default): a longer path segment is refused before any route runs. */
export const MAX_PARAM_LENGTH = 100

/**
 * Errors the router raises before any hook runs (Fastify's `frameworkErrors`): a malformed or over-long path
 * segment. Without this they go out in Fastify's own shape, echoing the whole URL back.
 */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void reply.code(414).send(errorBody('E_TOO_LARGE', `a path segment is longer than ${MAX_PARAM_LENGTH} characters`))
    return
  }
  void reply.code(400).send(errorBody('E_USAGE', err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid (malformed percent-encoding?)' : 'the request cannot be routed'))
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | CtlError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const ctl = err instanceof CtlError ? err : fromFastifyError(err as FastifyError)
    if (!ctl) {
      request.log.error({ err }, 'internal error')
      return reply.code(500).send(errorBody('E_INTERNAL', 'internal error; see the control plane log'))
    }
    // A manifest error is 422, whatever its first issue's code; 403 when every issue is a refusal
    // (a secret or volume that may not be used), with the located issues all the same.
    const status = ctl instanceof ManifestError ? (isForbiddenOnly(ctl.issues) ? 403 : 422) : statusForCode(ctl.code)
    if (status >= 500) request.log.error({ err }, 'internal error')
    const issues = ctl instanceof ManifestError ? (ctl.issues as ApiIssue[]) : undefined
    const message = status === 500 ? 'internal error; see the control plane log' : ctl.message
    if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="ctl"')
    return reply.code(status).send(errorBody(ctl.code, message, issues))
  })
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send(errorBody('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
  })
}

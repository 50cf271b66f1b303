// Kubernetes `Status` objects for error answers, with the code/reason pairs the API server uses.
import type { KubeObject } from './types.js'

export type StatusReason =
  | 'NotFound' | 'AlreadyExists' | 'Gone' | 'Expired' | 'TooManyRequests' | 'InternalError' | 'Invalid'
  | 'BadRequest' | 'Unauthorized' | 'MethodNotAllowed' | 'Conflict'

export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }

  toStatus(): KubeObject {
    return statusObject(this.code, this.reason, this.message, this.details)
  }
}

export function statusObject(code: number, reason: StatusReason, message: string, details?: Record<string, unknown>): KubeObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  }
}

const GROUP_KIND: Record<string, string> = {
  namespaces: 'namespaces', pods: 'pods', secrets: 'secrets', configmaps: 'configmaps',
  persistentvolumeclaims: 'persistentvolumeclaims', events: 'events',
}

export const notFound = (resource: string, name: string): KubeStatusError =>
  new KubeStatusError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: GROUP_KIND[resource] ?? resource })

export const alreadyExists = (resource: string, name: string): KubeStatusError =>
  new KubeStatusError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource })

export const gone = (rv: number, current: number): KubeStatusError =>
  new KubeStatusError(410, 'Expired', `too old resource version: ${rv} (${current})`)

export const badRequest = (message: string): KubeStatusError => new KubeStatusError(400, 'BadRequest', message)

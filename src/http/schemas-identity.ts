// JSON Schemas of the identity and access routes (users, keys, tags, workspaces, grants,
// can-i, audit). Response schemas list every field: the serializer drops the rest.
import { PERMISSIONS, ROLES, VERBS } from '../api/types.js'

const NAME = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 48 } as const
const TYPE = { type: 'string', pattern: '^[a-z][-a-z0-9]*$', maxLength: 48 } as const
/** User ids: like resource names, plus `.` and `_` (e-mail-ish handles such as `jane.doe`). */
const USER_ID = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$', maxLength: 64 } as const
const STR = { type: 'string' } as const

const user = {
  type: 'object',
  properties: { id: STR, name: STR, type: STR, email: STR, createdAt: STR, deletedAt: STR },
} as const
const apiKey = {
  type: 'object',
  properties: { id: STR, userId: STR, name: STR, createdAt: STR, expiresAt: STR, revokedAt: STR, lastUsedAt: STR },
} as const
const tag = {
  type: 'object',
  properties: { tag: STR, role: STR, workspace: { type: ['string', 'null'] }, createdBy: STR, createdAt: STR },
} as const
const workspace = {
  type: 'object',
  properties: { name: STR, description: STR, layer: STR, tags: { type: 'array', items: STR }, createdAt: STR },
} as const
const grant = { type: 'object', properties: { to: STR, permission: STR, grantedBy: STR, createdAt: STR } } as const

export const userParams = { type: 'object', properties: { id: USER_ID }, required: ['id'] } as const
export const apiKeyParams = {
  type: 'object', properties: { id: USER_ID, keyId: { type: 'string', maxLength: 128 } }, required: ['id', 'keyId'],
} as const
export const usersQuery = {
  type: 'object',
  properties: { all: { type: 'boolean', default: false }, tags: { type: 'boolean', default: false, description: "Each user's tags too (one query, not one per user)" } },
} as const

export const createUserBody = {
  type: 'object',
  properties: {
    id: USER_ID,
    name: { type: 'string', minLength: 1, maxLength: 200 },
    type: { type: 'string', enum: ['person', 'application'] },
    email: { type: 'string', maxLength: 320, pattern: '^[^@\\s]+@[^@\\s]+$' },
  },
  required: ['id', 'name', 'type'],
  additionalProperties: false,
} as const
export const userResponse = { type: 'object', properties: { user } } as const
export const usersResponse = {
  type: 'object',
  properties: { users: { type: 'array', items: { type: 'object', properties: { ...user.properties, tags: { type: 'array', items: tag } } } } },
} as const

export const createApiKeyBody = {
  type: ['object', 'null'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    expiresIn: { type: 'string', maxLength: 32, description: 'A duration: 30s, 15m, 24h, 30d, 1w, 1d12h' },
  },
  additionalProperties: false,
} as const
export const createApiKeyResponse = {
  type: 'object', properties: { id: STR, name: STR, token: STR, expiresAt: STR },
} as const
export const apiKeysResponse = { type: 'object', properties: { apikeys: { type: 'array', items: apiKey } } } as const
export const apiKeyResponse = { type: 'object', properties: { apikey: apiKey } } as const

export const tagBody = {
  type: 'object',
  properties: {
    tag: { type: 'string', maxLength: 100, description: `roles:id:ROLE; roles: ${ROLES.join(', ')}` },
    workspace: NAME,
  },
  required: ['tag'],
  additionalProperties: false,
} as const
export const tagsResponse = { type: 'object', properties: { tags: { type: 'array', items: tag } } } as const
export const tagChangeResponse = {
  type: 'object', properties: { changed: { type: 'boolean' }, tags: { type: 'array', items: tag } },
} as const

export const createWorkspaceBody = {
  type: 'object',
  properties: {
    name: NAME,
    description: { type: 'string', maxLength: 1000 },
    layer: { type: 'string', enum: ['user', 'system'] },
    tags: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 100 } },
  },
  required: ['name'],
  additionalProperties: false,
} as const
export const workspaceResponse = { type: 'object', properties: { workspace } } as const
export const workspacesResponse = { type: 'object', properties: { workspaces: { type: 'array', items: workspace } } } as const
export const deleteWorkspaceResponse = {
  type: 'object', properties: { deleted: { type: 'object', properties: { name: STR, resources: { type: 'integer' } } } },
} as const

export const grantBody = {
  type: 'object',
  properties: {
    to: { type: 'string', maxLength: 100, pattern: '^user:', description: 'user:ID' },
    permission: { type: 'string', enum: [...PERMISSIONS] },
  },
  required: ['to', 'permission'],
  additionalProperties: false,
} as const
export const grantsResponse = { type: 'object', properties: { grants: { type: 'array', items: grant } } } as const
export const grantChangeResponse = {
  type: 'object', properties: { changed: { type: 'boolean' }, grants: { type: 'array', items: grant } },
} as const

export const canIBody = {
  type: 'object',
  properties: { verb: { type: 'string', enum: [...VERBS] }, type: TYPE, name: { type: 'string', maxLength: 64 }, workspace: NAME },
  required: ['verb', 'type'],
  additionalProperties: false,
} as const
export const canIResponse = { type: 'object', properties: { allowed: { type: 'boolean' }, reason: STR } } as const

export const auditQuery = {
  type: 'object',
  properties: {
    since: { type: 'string', maxLength: 64, description: 'ISO time, or a duration back from now (1h, 30m)' },
    limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
  },
} as const
export const auditResponse = {
  type: 'object',
  properties: {
    entries: {
      type: 'array',
      items: {
        type: 'object',
        properties: { seq: { type: 'integer' }, time: STR, actor: STR, action: STR, target: STR, result: STR, detail: {} },
      },
    },
  },
} as const

export const whoamiResponse = {
  type: 'object',
  properties: {
    principal: {
      type: 'object',
      properties: {
        id: STR, type: STR, name: STR,
        roles: { type: 'array', items: { type: 'object', properties: { role: STR, workspace: { type: ['string', 'null'] } } } },
      },
    },
  },
} as const

// whoami, info and replicas: who the key belongs to, what this control plane is, and which control planes share its store.
import type { FastifyPluginAsync } from 'fastify'
import type { EngineApi } from '../../engine/api.js'
import type { Store } from '../../store/types.js'
import type { InfoResponse, ReplicasResponse, WhoAmIResponse } from '../../api/types.js'
import { requireAllowed } from '../../access/policy.js'
import { replicasView } from '../replicas.js'
import { principalOf } from '../auth.js'
import * as S from '../schemas.js'

export interface MetaRoutesOptions {
  store: Store
  engine: EngineApi
  version: string
  /** This replica's id; 'local' for an app without a control plane around it (tests). */
  replicaId?: string
}

export const metaRoutes: FastifyPluginAsync<MetaRoutesOptions> = async (fastify, opts) => {
  fastify.get('/api/v1/whoami', {
    schema: { summary: 'The authenticated principal', tags: ['meta'], response: S.withErrors({ 200: S.whoamiResponse }) },
  }, async (request): Promise<WhoAmIResponse> => ({ principal: principalOf(request) }))

  fastify.get('/api/v1/info', {
    schema: { summary: 'Version, store and runtime of this control plane', tags: ['meta'], response: S.withErrors({ 200: S.infoResponse }) },
  }, async (): Promise<InfoResponse> => ({
    version: opts.version, apiVersion: 'v1', store: opts.store.kind, runtime: opts.engine.runtimeInfo(),
  }))

  fastify.get('/api/v1/replicas', {
    schema: {
      summary: 'The control planes sharing this store: host, pid, version, heartbeat, runs owned; tenant-admin only (host details)',
      tags: ['meta'], response: S.withErrors({ 200: S.replicasResponse }),
    },
  }, async (request): Promise<ReplicasResponse> => {
    requireAllowed(principalOf(request), 'admin', { workspace: null, type: 'replicas' })
    return replicasView(opts.store, opts.replicaId ?? 'local')
  })
}

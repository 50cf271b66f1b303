// whoami and info: who the key belongs to, and what this control plane is.
import type { FastifyPluginAsync } from 'fastify'
import type { EngineApi } from '../../engine/api.js'
import type { Store } from '../../store/types.js'
import type { InfoResponse, WhoAmIResponse } from '../../api/types.js'
import { principalOf } from '../auth.js'
import * as S from '../schemas.js'

export interface MetaRoutesOptions {
  store: Store
  engine: EngineApi
  version: string
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
}

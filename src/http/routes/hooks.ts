// Webhook triggers: `POST /api/v1/hooks/:ws/:workflow/:trigger`. No API key: the request is
// authenticated by its signature (hook-guard.ts) with the HMAC_KEY of the trigger's secret. The run
// belongs to the workflow's owner (like a scheduled run) and starts only while the owner may still
// `run` the workflow. Failures (bad, missing or replayed signature, unknown hook) count per client
// address in the same FailureLimiter as wrong API keys; a limited address gets 429 in onRequest,
// before its body is read or any HMAC computed. Every call is audited (action `webhook`).
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { CtlError } from '../../errors.js'
import type { EngineApi } from '../../engine/api.js'
import type { ResourceRecord, Store } from '../../store/types.js'
import { WEBHOOK_KEY, type TriggerSpec, type WorkflowResource } from '../../manifest/model.js'
import { resolveParams } from '../../manifest/params.js'
import { checkRunParamsSize } from '../../manifest/limits.js'
import { evaluateValue } from '../../expr/index.js'
import { decideOn } from '../../access/targets.js'
import { principalForUser } from '../../access/principals.js'
import { StoreSecretProvider } from '../../engine/launch.js'
import type { SecretBox } from '../../secrets/crypto.js'
import { type AuthLimits } from '../auth.js'
import { SharedFailureLimiter } from '../shared-limiter.js'
import { noteAudit } from '../audit.js'
import { HOOK_BODY_LIMIT, readHookHeaders, ReplayCaches, signatureMatches } from '../hook-guard.js'
import { NAME, withErrors } from '../schemas.js'

export interface HooksRoutesOptions {
  store: Store
  engine: EngineApi
  secrets?: SecretBox
  /** The same limits as failed API-key authentications (default 10 failures a minute per address). */
  limits?: AuthLimits
}

type HookParams = { ws: string; workflow: string; trigger: string }

const hookParams = {
  type: 'object', required: ['ws', 'workflow', 'trigger'],
  properties: { ws: NAME, workflow: NAME, trigger: NAME },
} as const
const hookResponse = { type: 'object', properties: { runId: { type: 'string' } }, required: ['runId'] } as const

/** Header values as CEL sees them: names lowercased (Node does), repeated headers joined with ", ". */
function headerMap(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v
  return out
}

/** Deepest nesting of a hook body: CEL's conversion recurses, so a pathological body must not reach it. */
const MAX_BODY_DEPTH = 64
const REPLAYED = 'this signature was already used: a replayed request is refused'

function depthOver(v: unknown, max: number): boolean {
  if (max < 0) return true
  if (Array.isArray(v)) return v.some((x) => depthOver(x, max - 1))
  if (v && typeof v === 'object') return Object.values(v).some((x) => depthOver(x, max - 1))
  return false
}

/** The body as CEL's `body`: its JSON, or its text when it is not JSON (null when empty). */
function bodyValue(raw: Buffer): unknown {
  if (raw.length === 0) return null
  const text = raw.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch {
    return text
  }
  if (depthOver(value, MAX_BODY_DEPTH)) throw new CtlError('E_USAGE', `the request body nests deeper than ${MAX_BODY_DEPTH} levels`)
  return value
}

/** The trigger's params from the request; E_EXPR / E_PARAMS (422) name the param and why. */
export function hookParamsOf(wf: WorkflowResource, trigger: TriggerSpec, raw: Buffer, headers: Record<string, string | string[] | undefined>): Record<string, unknown> {
  const vars = { body: bodyValue(raw), headers: headerMap(headers) }
  const given: Record<string, unknown> = {}
  for (const [param, source] of Object.entries(trigger.webhook.params)) {
    try {
      given[param] = evaluateValue(source, vars)
    } catch (err) {
      if (err instanceof CtlError) throw new CtlError(err.code, `trigger "${trigger.name}", param "${param}": ${err.message}`)
      throw err
    }
  }
  // Checked here so the 422 comes before a run is created; bounded like the params of POST runs.
  checkRunParamsSize(given)
  resolveParams(wf.workflow.params, given)
  return given
}

export const hooksRoutes: FastifyPluginAsync<HooksRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store, engine } = opts
  // Across replicas, like failed API keys: bad calls to every control plane sharing the store count together.
  const limiter = new SharedFailureLimiter(store, 'hook', opts.limits?.maxFailures ?? 10, opts.limits?.windowMs ?? 60_000)
  const replays = new ReplayCaches()
  const secrets = new StoreSecretProvider(store, opts.secrets)
  // Per address only: a hook call presents no key whose prefix could tell callers apart.
  const LIMIT_KEY = 'webhook'

  // The raw bytes are what was signed: no parser may touch them first.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

  fastify.addHook('onRequest', async (request, reply) => {
    // Routed already: the audit entry of a refused call names the hook it tried, like any other.
    const p = request.params as Partial<HookParams>
    noteAudit(request, { target: `workflow/${p.ws}/${p.workflow}`, detail: { trigger: p.trigger, address: request.ip } })
    const wait = await limiter.blockedFor(request.ip, LIMIT_KEY)
    if (wait > 0) {
      reply.header('Retry-After', String(Math.ceil(wait / 1000)))
      throw new CtlError('E_RATE_LIMITED', `too many failed webhook calls from ${request.ip}; try again in ${Math.ceil(wait / 1000)} s`)
    }
  })

  /** The hook's workflow, trigger and key; undefined parts when it does not exist. */
  const findHook = async (p: HookParams): Promise<{ record?: ResourceRecord; trigger?: TriggerSpec; key?: string }> => {
    const record = await store.getResource({ workspace: p.ws, type: 'workflow', name: p.workflow })
    const trigger = (record?.manifest as WorkflowResource | undefined)?.workflow.triggers?.find((t) => t.name === p.trigger)
    if (!record || !trigger) return {}
    const values = await secrets.getSecret({ id: trigger.webhook.secret, contextAlias: trigger.webhook.secret }, p.ws).catch(() => undefined)
    return { record, trigger, key: values?.[WEBHOOK_KEY] || undefined }
  }

  fastify.post<{ Params: HookParams; Body: Buffer | undefined }>('/api/v1/hooks/:ws/:workflow/:trigger', {
    bodyLimit: HOOK_BODY_LIMIT,
    config: { audit: 'webhook' },
    schema: {
      summary: 'Webhook trigger: starts a run of the workflow; no API key, signed with X-Ctl-Timestamp and X-Ctl-Signature (sha256=HMAC of "TIMESTAMP.BODY")',
      tags: ['runs'], params: hookParams, response: withErrors({ 202: hookResponse }, 404, 413, 422),
    },
  }, async (request, reply) => {
    const p = request.params
    const address = request.ip
    const refuse = async (code: 'E_UNAUTHENTICATED' | 'E_NOT_FOUND', message: string): Promise<never> => {
      await limiter.fail(address, LIMIT_KEY)
      throw new CtlError(code, message)
    }
    const headers = readHookHeaders(request.headers)
    if (typeof headers === 'string') return refuse('E_UNAUTHENTICATED', headers)
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const hook = await findHook(p)
    // One HMAC either way (a decoy key for an unknown hook), compared in constant time.
    const valid = signatureMatches(hook.key, headers.timestamp, raw, headers.signature)
    if (!hook.record || !hook.trigger) return refuse('E_NOT_FOUND', `no webhook trigger ${p.trigger} on workflow ${p.workflow} in workspace ${p.ws}`)
    if (!valid) return refuse('E_UNAUTHENTICATED', 'the signature does not match (HMAC-SHA256 of "TIMESTAMP.BODY" with the secret\'s HMAC_KEY)')
    // Keyed by the secret, not the hook: the same signed delivery is no good on another hook with that key either.
    const replayKey = `${p.ws}\u0000${hook.trigger.webhook.secret}`
    // This process's cache first (a replay here costs no store write), then the store's claim: the same delivery
    // sent to another replica is refused there too. Claims are kept a day, the window five minutes.
    const claim = { key: `hook:${createHash('sha256').update(`${replayKey}\u0000${headers.signature}`).digest('hex').slice(0, 40)}`, at: new Date(headers.at).toISOString() }
    if (!replays.accept(replayKey, headers.signature, headers.at)) return refuse('E_UNAUTHENTICATED', REPLAYED)
    let claimed: boolean
    try {
      claimed = await store.claimFire(claim.key, claim.at, 'webhook')
    } catch (err) {
      replays.forget(replayKey, headers.signature)
      throw err
    }
    if (!claimed) return refuse('E_UNAUTHENTICATED', REPLAYED)
    try {
      return await startRun(request, reply, hook.record, hook.trigger, raw)
    } catch (err) {
      // Nothing was made (a store blip, a refused run): the sender's redelivery of this very request must not be
      // refused as a replay, so the mark is given back here and in the store. Concurrent duplicates are still
      // refused while this one is under way (the claim is held until then).
      replays.forget(replayKey, headers.signature)
      await store.releaseFire(claim.key, claim.at, 'webhook').catch(() => undefined)
      throw err
    }
  })

  /** The run of a delivery accepted once: as a scheduled run, the owner's. */
  const startRun = async (request: FastifyRequest<{ Params: HookParams }>, reply: FastifyReply, record: ResourceRecord, trigger: TriggerSpec, raw: Buffer) => {
    const p = request.params
    noteAudit(request, { actor: `webhook:${p.trigger}` })
    // As a scheduled run: the owner's, and only while the owner may still run the workflow.
    const owner = await principalForUser(store, record.owner)
    const key = { workspace: p.ws, type: 'workflow', name: p.workflow }
    if (!owner || !(await decideOn(store, owner, 'run', key, record)).allowed) {
      // Who the owner is stays unsaid: the caller holds a key, not an account.
      throw new CtlError('E_FORBIDDEN', `the owner of workflow ${p.workflow} may no longer run it; the webhook starts nothing`)
    }
    const wf = record.manifest as WorkflowResource
    const given = hookParamsOf(wf, trigger, raw, request.headers)
    const run = await engine.runTriggered(record, `webhook:${p.trigger}`, given)
    noteAudit(request, { detail: { runId: run.id } })
    return reply.code(202).send({ runId: run.id })
  }
}

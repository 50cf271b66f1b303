// Approval routes: approve or reject a step that waits for approval (`runtime approve|reject`).
// Deciding needs `approve` on the workflow and, per the step's `approvers:`, being one of them
// (without approvers: `run` on the workflow); see src/access/approvers.ts. Each decision is
// audited with its run, step and comment.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import type { EngineApi } from '../../engine/api.js'
import type { Store } from '../../store/types.js'
import type { ApprovalRequest, ApprovalResponse } from '../../api/types.js'
import { principalOf } from '../auth.js'
import { decideApproval } from '../../access/approvers.js'
import { requireOn, targetFor } from '../../access/targets.js'
import { noteAudit } from '../audit.js'
import { loadResource, resourceKey } from '../keys.js'
import * as S from '../schemas.js'

export interface ApprovalRoutesOptions {
  store: Store
  engine: EngineApi
}

export const approvalRoutes: FastifyPluginAsync<ApprovalRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store, engine } = opts

  const register = (prefix: string, params: object, wsOf: (p: Record<string, string>) => string | null): void => {
    for (const decision of ['approve', 'reject'] as const) {
      fastify.post<{ Params: Record<string, string>; Body: ApprovalRequest }>(`${prefix}/:type/:name/runs/${decision}`, {
        config: { audit: decision },
        schema: {
          summary: decision === 'approve'
            ? 'Approve a step that waits for approval (in the given run, or the newest run where it waits): it starts'
            : 'Reject a step that waits for approval: it fails (Rejected by USER: COMMENT), its dependents follow the normal rules',
          tags: ['runs'], params, body: S.approvalBody,
          response: S.withErrors({ 200: S.approvalResponse }, 404, 409),
        },
      }, async (request): Promise<ApprovalResponse> => {
        const principal = principalOf(request)
        const key = resourceKey(wsOf(request.params), request.params.type!, request.params.name!)
        const found = await store.getResource(key)
        await requireOn(store, principal, 'approve', key, found)
        const wf = found ?? (await loadResource(store, key))
        if (wf.type !== 'workflow') throw new CtlError('E_USAGE', `${wf.type} ${wf.name} has no runs; only workflows run`)
        const { step, runId, comment } = request.body
        noteAudit(request, { detail: { step, ...(runId !== undefined ? { runId } : {}), ...(comment ? { comment } : {}) } })
        const waiting = await engine.waitingStep(wf, step, runId)
        noteAudit(request, { detail: { runId: waiting.runId } })
        const may = decideApproval(principal, waiting.approval?.approvers ?? [], await targetFor(store, principal.id, key, wf))
        if (!may.allowed) throw new CtlError('E_FORBIDDEN', `forbidden: user ${principal.id} may not ${decision} step "${step}" of run ${waiting.runId}: ${may.reason}`, { verb: 'approve', reason: may.reason })
        return { stepRun: await engine.decideApproval(waiting, decision, principal.id, comment) }
      })
    }
  }
  register('/api/v1/workspaces/:ws/resources', S.wsResourceParams, (p) => p.ws!)
  register('/api/v1/instance/resources', S.instanceResourceParams, () => null)
}

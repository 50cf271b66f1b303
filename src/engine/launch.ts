// Builds the runtime's StepLaunch for one attempt: stack and compute from the
// built-ins plus applied resources, projections rendered with real secret
// values, the resolved Pod, and the host folders of the step's volumes.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { CtlError } from '../errors.js'
import type { SecretKind, SecretRef, SecretResource, StepModel, VolumeResource, WorkflowResource } from '../manifest/model.js'
import { dockerConfigSecretValues } from '../manifest/pull-secret.js'
import { secretParamValues } from '../manifest/params.js'
import { openRunParams } from '../secrets/params.js'
import type { ResourceKey, Store } from '../store/types.js'
import type { StepLaunch, VolumeClaimSpec } from '../runtime/types.js'
import { Catalog } from '../stack/catalog.js'
import { lookupStep, resolveStep } from '../stack/resolve.js'
import type { RunContext } from '../template/run-context.js'
import { scheduledTimeOf } from './cron.js'
import type { SecretValueProvider } from '../projection/secrets.js'
import type { RunScope, StepLauncher } from './context.js'
import { openSecretValues, type SecretBox } from '../secrets/crypto.js'
import { redactionForms, type RunRedactions } from '../secrets/redact.js'
import { secretKeyOf } from '../secrets/use.js'
import { checkUse } from '../access/use.js'
import { renderStepValues } from '../stack/values.js'
import { attemptSpanId, traceparentOf } from './trace-ids.js'

/**
 * Reads `type: secret` / `instance-secret` resources from the store and decrypts their values
 * (sealed by the server at apply; see src/secrets/crypto.ts). Without a box only values stored
 * unsealed (before secrets were encrypted) can be read.
 */
/** A secret manifest's key names (data and files); stored in clear, so nothing is decrypted. */
export function secretKeyNames(manifest: unknown): string[] {
  const secret = (manifest as Partial<SecretResource>).secret
  return [...Object.keys(secret?.data ?? {}), ...Object.keys(secret?.files ?? {})]
}

export class StoreSecretProvider implements SecretValueProvider {
  constructor(private readonly store: Store, private readonly box?: SecretBox) {}

  private record(ref: SecretRef, workspace: string) {
    return this.store.getResource(secretKeyOf(ref, workspace))
  }

  async getSecret(ref: SecretRef, workspace: string): Promise<Record<string, string> | undefined> {
    const record = await this.record(ref, workspace)
    return record ? openSecretValues(record.manifest, this.box) : undefined
  }

  /** Key names only: nothing is decrypted. */
  async listKeys(ref: SecretRef, workspace: string): Promise<string[] | undefined> {
    const record = await this.record(ref, workspace)
    return record ? secretKeyNames(record.manifest) : undefined
  }

  /** The type is stored in clear (only data and files are sealed): nothing is decrypted. */
  async kindOf(ref: SecretRef, workspace: string): Promise<SecretKind | undefined> {
    const record = await this.record(ref, workspace)
    if (!record) return undefined
    return (record.manifest as Partial<SecretResource>).secret?.type ?? 'key-value'
  }
}

const CATALOG_TTL_MS = 1000

/** What a step needs `use` on: the secrets it projects and the volumes it mounts, in that order. */
export function usedByStep(step: Pick<StepModel, 'spec'>, workspace: string): ResourceKey[] {
  return [
    ...step.spec.projection.secrets.map((ref) => secretKeyOf(ref, workspace)),
    ...step.spec.volumes.map((v): ResourceKey => ({ workspace, type: 'volume', name: v.id })),
  ]
}

/** Host folder of a `type: volume` resource. */
export function volumeDir(dataDir: string, workspace: string, id: string): string {
  return join(dataDir, 'volumes', workspace, id)
}

/** The PVC claim name the Pod uses for a volume; the launch maps it back to the host folder. */
export function claimNameFor(workspace: string, id: string): string {
  return `ctl-vol-${workspace}-${id}`
}

export interface StoreLauncherOptions {
  store: Store
  dataDir: string
  /** Decrypts secret values; without it only values stored unsealed can be projected. */
  box?: SecretBox
  /** Replaces the store-backed provider (tests, offline). */
  secrets?: SecretValueProvider
  /** Where the redaction forms of each launched run go, for what the engine stores (EngineOptions.redact). */
  redactions?: RunRedactions
  /** The control plane's URL as steps reach it (CTL_SERVER in every step); awaited, as it is known once the server listens. */
  serverUrl?: () => Promise<string | undefined>
}

export function createStoreLauncher(opts: StoreLauncherOptions): StepLauncher {
  const { store, dataDir } = opts
  const secrets = opts.secrets ?? new StoreSecretProvider(store, opts.box)
  // The catalog is read once per CATALOG_TTL_MS rather than twice per step start (two queries and a
  // registry build each). check() (every apply) always reads it fresh.
  let cached: { at: number; value: Promise<Catalog> } | undefined
  const readCatalog = (fresh: boolean): Promise<Catalog> => {
    const now = Date.now()
    if (fresh || !cached || now - cached.at > CATALOG_TTL_MS) {
      const value = Catalog.fromStore(store)
      cached = { at: now, value }
      value.catch(() => {
        if (cached?.value === value) cached = undefined
      })
    }
    return cached.value
  }

  return {
    async check(workflow: WorkflowResource): Promise<string[]> {
      const catalog = await readCatalog(true)
      const problems: string[] = []
      for (const step of [...workflow.workflow.dag, ...(workflow.workflow.finally ?? [])]) {
        try {
          lookupStep(step, catalog)
        } catch (err) {
          if (!(err instanceof CtlError)) throw err
          problems.push(err.message)
        }
      }
      return problems
    },

    async prepare(scope: RunScope, step, attempt, values): Promise<StepLaunch> {
      const { run, resource, workflow } = scope
      const stored = step
      // `{{.params.X}}`, `{{.steps.S.outputs.K}}`, `{{.item}}`…: rendered before anything reads the step.
      // A reference to a value that is not there fails the attempt, naming the reference.
      if (values) step = renderStepValues(step, values)
      const workspace = resource.workspace ?? 'public'
      const catalog = await readCatalog(false)
      // The stack, its stackSpec and the compute first: the same errors as a dry run of the step (resolveStep).
      lookupStep(step, catalog)

      // The owner may have lost the right to a secret or volume since the workflow was applied (checked there too).
      const refused = await checkUse(store, usedByStep(step, workspace), { owner: resource.owner })
      if (refused.length > 0) throw new CtlError('E_FORBIDDEN', refused.map((p) => p.message).join('; '))

      // Every volume must be an applied `type: volume` of the workspace; its host folder is created on first use.
      const volumeDirs: Record<string, string> = {}
      const volumes: Record<string, VolumeClaimSpec> = {}
      for (const v of step.spec.volumes) {
        const vol = await store.getResource({ workspace, type: 'volume', name: v.id })
        if (!vol) throw new CtlError('E_VOLUME', `volume "${v.id}" is not applied in workspace "${workspace}"; apply a type: volume resource named "${v.id}" first`)
        const dir = volumeDir(dataDir, workspace, v.id)
        mkdirSync(dir, { recursive: true, mode: 0o700 })
        volumeDirs[claimNameFor(workspace, v.id)] = dir
        const spec = (vol.manifest as Partial<VolumeResource>).volume
        if (spec) volumes[claimNameFor(workspace, v.id)] = { size: spec.size, accessMode: spec.accessMode, ...(spec.storageClass ? { storageClass: spec.storageClass } : {}) }
      }

      const runContext: RunContext = {
        runId: run.id,
        revision: run.revision,
        runStartTime: run.startedAt ?? run.createdAt,
        scheduledTime: scheduledTimeOf(run),
        owner: resource.owner,
        workspace,
        attempt,
      }
      // The attempt's span is built later from the same stored facts (trace-ids.ts), so the step's own spans join it.
      if (run.traceId) runContext.traceparent = traceparentOf(run.traceId, attemptSpanId(run.id, step.name, attempt))
      const serverUrl = await opts.serverUrl?.()
      if (serverUrl) runContext.serverUrl = serverUrl
      const { resolved, projection } = await resolveStep(workflow, step, {
        catalog, run: runContext, secrets, mode: 'values', claimNameFor: (id) => claimNameFor(workspace, id),
        // A step with run values in it (params may be secret) is rendered afresh, and nothing of it is kept.
        keep: step === stored ? 'step' : 'nothing',
      })
      const secretData = { ...(resolved.secret?.stringData ?? {}) }
      const pullSecrets = { ...(resolved.pullSecrets ?? {}) }
      // Every value the step can see, as is and encoded, and the registry passwords (a failed pull's
      // message could echo them): redacted from its log and messages.
      const redact = redactionForms([
        ...projection.projectedValues,
        ...Object.values(secretData),
        ...Object.values(pullSecrets).flatMap(dockerConfigSecretValues),
        // Params declared `secret: true`: whatever the step prints of them, like a projected secret.
        ...secretParamValues(workflow.workflow.params, openRunParams(workflow.workflow.params, run.params, opts.box, run.resourceId)),
      ])
      if (redact.length > 0) opts.redactions?.add(run.id, redact)
      return {
        key: { runId: run.id, step: step.name, attempt },
        pod: resolved.pod,
        secretData,
        redact,
        configData: { ...(resolved.configMap?.data ?? {}) },
        ...(Object.keys(pullSecrets).length > 0 ? { pullSecrets } : {}),
        volumeDirs,
        volumes,
        timeoutSeconds: step.timeoutSeconds,
        owners: [...new Set([resource.owner, ...(scope.appliedBy ? [scope.appliedBy] : [])])],
      }
    },
  }
}

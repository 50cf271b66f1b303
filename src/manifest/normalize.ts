// Schema-valid documents → the internal model (model.ts). Defaults are filled
// here and nowhere else, so every consumer sees the same resolved values.

import { isCtlError, type ManifestIssue } from '../errors.js'
import type { ManifestContext } from './context.js'
import { issueAt } from './issues.js'
import type {
  ComputeResource,
  ComputeSpec,
  LoadedDocument,
  Resource,
  ResourceMeta,
  SecretResource,
  SecretSpec,
  StackResource,
  Toleration,
  VolumeResource,
  VolumeSpec,
} from './model.js'
import { normalizeWorkflow } from './normalize-workflow.js'
import type { DocumentHeader } from './validate.js'

export { DEFAULT_COMPUTE, mergeProjections, parseStackRef } from './normalize-workflow.js'

type Obj = Record<string, unknown>

export function normalizeMeta(value: Obj, header: DocumentHeader): ResourceMeta {
  const meta: ResourceMeta = {
    name: String(value['name']),
    version: header.version,
    type: header.type,
    tags: Array.isArray(value['tags']) ? value['tags'].map(String) : [],
    layer: value['layer'] === 'system' ? 'system' : 'user',
  }
  if (typeof value['description'] === 'string') meta.description = value['description']
  // Absent stays absent: a manifest without labels keeps its content hash.
  if (value['labels'] !== undefined && typeof value['labels'] === 'object' && value['labels'] !== null) {
    meta.labels = Object.fromEntries(Object.entries(value['labels'] as Obj).map(([k, v]) => [k, String(v)]))
  }
  if (typeof value['owner'] === 'string') meta.owner = value['owner']
  if (typeof value['workspace'] === 'string') meta.workspace = value['workspace']
  return meta
}

/** One schema-valid document → its resource. */
export function normalizeDocument(
  doc: LoadedDocument,
  header: DocumentHeader,
  ctx: Pick<ManifestContext, 'stackDefinitionFromBody'>,
): { resource?: Resource; issues: ManifestIssue[] } {
  const value = doc.value as Obj
  const meta = normalizeMeta(value, header)
  const body = value[header.bodyKey] as Obj
  switch (meta.type) {
    case 'workflow':
      return normalizeWorkflow(doc, { ...meta, type: 'workflow' }, header.bodyKey)
    case 'secret':
    case 'instance-secret': {
      const secret: SecretSpec = {
        type: body['type'] as SecretSpec['type'],
        acl: body['acl'] === 'rw' ? 'rw' : 'r',
        data: { ...((body['data'] as Record<string, string> | undefined) ?? {}) },
        files: { ...((body['files'] as Record<string, string> | undefined) ?? {}) },
      }
      const resource: SecretResource = { meta: { ...meta, type: meta.type }, secret }
      return { resource, issues: [] }
    }
    case 'volume': {
      const volume: VolumeSpec = {
        size: String(body['size']),
        accessMode: body['accessMode'] as VolumeSpec['accessMode'],
        type: body['type'] as VolumeSpec['type'],
      }
      if (typeof body['storageClass'] === 'string') volume.storageClass = body['storageClass']
      const resource: VolumeResource = { meta: { ...meta, type: 'volume' }, volume }
      return { resource, issues: [] }
    }
    case 'compute': {
      const nodePool = (body['nodePool'] as Obj | undefined) ?? {}
      const compute: ComputeSpec = {
        purpose: body['purpose'] as ComputeSpec['purpose'],
        nodeSelector: { ...((nodePool['nodeSelector'] as Record<string, string> | undefined) ?? {}) },
        tolerations: ((nodePool['tolerations'] as Toleration[] | undefined) ?? []).map((t) => ({ ...t })),
      }
      const resource: ComputeResource = { meta: { ...meta, type: 'compute' }, compute }
      return { resource, issues: [] }
    }
    case 'stack': {
      try {
        const stack = ctx.stackDefinitionFromBody(meta, body)
        const resource: StackResource = { meta: { ...meta, type: 'stack' }, stack }
        return { resource, issues: [] }
      } catch (err) {
        // The stack module refuses what the schema cannot express (a bad
        // template, an invalid stackSpec schema); report it at the body.
        const code = isCtlError(err) ? err.code : 'E_STACK_TEMPLATE'
        const message = err instanceof Error ? err.message : String(err)
        return { issues: [issueAt(doc, code, [header.bodyKey], message)] }
      }
    }
  }
}

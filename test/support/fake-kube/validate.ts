// OpenAPI validation of what clients send, via kubernetes-models' generated validators.
import { ConfigMap, Event, Namespace, PersistentVolumeClaim, Pod, Secret } from 'kubernetes-models/v1'
import type { ResourceName } from './types.js'

interface Validatable { validate(): void }
type Ctor = new (data: never) => Validatable

const MODELS: Record<ResourceName, Ctor> = {
  pods: Pod as unknown as Ctor,
  secrets: Secret as unknown as Ctor,
  configmaps: ConfigMap as unknown as Ctor,
  persistentvolumeclaims: PersistentVolumeClaim as unknown as Ctor,
  namespaces: Namespace as unknown as Ctor,
  events: Event as unknown as Ctor,
}

interface AjvError { instancePath?: string; message?: string }

/** Returns the validation messages (empty when valid). */
export function validateObject(resource: ResourceName, body: unknown): string[] {
  try {
    new MODELS[resource](body as never).validate()
    return []
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors
    if (Array.isArray(errors) && errors.length > 0) {
      return errors.map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`)
    }
    return [err instanceof Error ? err.message : String(err)]
  }
}

// Where projection templates get secret values from. The store provides the
// real provider; the in-memory one serves tests and offline dry runs.

import type { SecretKind, SecretRef } from '../manifest/model.js'

export interface SecretValueProvider {
  /** Key → value of the secret, or undefined when it does not exist. `workspace` is the workflow's. */
  getSecret(ref: SecretRef, workspace: string): Promise<Record<string, string> | undefined>
  /**
   * Key names only, for dry runs that must not read values (allKeysAsEnv in
   * references mode). Optional: without it such keys are not listed.
   */
  listKeys?(ref: SecretRef, workspace: string): Promise<string[] | undefined>
  /**
   * The secret's `secret.type`, reading no value; undefined when it does not exist. Optional: without
   * it every secret counts as key-value (none becomes an image pull secret).
   */
  kindOf?(ref: SecretRef, workspace: string): Promise<SecretKind | undefined>
}

/** Where a reference points: its own workspace, the workflow's, or the instance. */
export function secretLocation(ref: SecretRef, workspace: string): string {
  return ref.instance ? 'instance' : `workspace "${ref.workspace ?? workspace}"`
}

export class InMemorySecretProvider implements SecretValueProvider {
  private readonly secrets = new Map<string, { data: Record<string, string>; kind: SecretKind }>()

  private static key(id: string, workspace: string | undefined): string {
    return workspace === undefined ? `instance\u0000${id}` : `ws\u0000${workspace}\u0000${id}`
  }

  /** A workspace secret; `set(id, data)` without a workspace stores an instance-secret. */
  set(id: string, data: Record<string, string>, workspace?: string, kind: SecretKind = 'key-value'): this {
    this.secrets.set(InMemorySecretProvider.key(id, workspace), { data: { ...data }, kind })
    return this
  }

  private find(ref: SecretRef, workspace: string) {
    return this.secrets.get(InMemorySecretProvider.key(ref.id, ref.instance ? undefined : (ref.workspace ?? workspace)))
  }

  async getSecret(ref: SecretRef, workspace: string): Promise<Record<string, string> | undefined> {
    const found = this.find(ref, workspace)
    return found ? { ...found.data } : undefined
  }

  async listKeys(ref: SecretRef, workspace: string): Promise<string[] | undefined> {
    const found = this.find(ref, workspace)
    return found ? Object.keys(found.data) : undefined
  }

  async kindOf(ref: SecretRef, workspace: string): Promise<SecretKind | undefined> {
    return this.find(ref, workspace)?.kind
  }
}

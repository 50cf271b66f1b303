// The server's side of secrets: sealing values before the store sees them, opening them for
// `get --unsanitized`. The crypto is src/secrets/crypto.ts; the `use` rule is src/access/use.ts
// (located at apply by use-issues.ts).
import { CtlError } from '../errors.js'
import { isSecretType, openSecretManifest, sealSecretManifest, type SealedSecret, type SecretBox } from '../secrets/crypto.js'

/** What the store gets for a resource about to be applied: secret values sealed, the hash over their MACs. */
export function sealForStore(box: SecretBox | undefined, type: string, manifest: unknown): SealedSecret {
  if (!isSecretType(type)) return { manifest, hashSource: undefined }
  // Fail closed: a server without a master key never stores a secret in clear.
  if (!box) throw new CtlError('E_INTERNAL', 'this control plane has no master key, so it cannot store secrets')
  return sealSecretManifest(type, manifest, box)
}

/** For AppDeps.revealSecrets: the stored manifest with values in clear (the route decides who may). */
export function secretRevealer(box: SecretBox): (type: string, manifest: unknown) => unknown {
  return (type, manifest) => openSecretManifest(type, manifest, box)
}

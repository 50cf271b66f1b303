// A CommonJS package loaded on first use, synchronously. A short-lived CLI process pays for every
// module it compiles at start; a lint that meets no schedule, expression or template should not
// compile cron-parser, CEL or Handlebars. Every user of one package goes through the same loader,
// so the process holds one instance of it (CEL ships ESM and CommonJS builds: mixing them would
// make two sets of classes).
import { createRequire } from 'node:module'

const requireHere = createRequire(import.meta.url)

/** `() => module`, the module required on the first call and kept. */
export function lazyModule<T>(id: string): () => T {
  let loaded: T | undefined
  return () => (loaded ??= requireHere(id) as T)
}

/** `yaml` (~70 files): JSON manifests and table output never need it. */
export const yaml = lazyModule<typeof import('yaml')>('yaml')

/** `cron-parser` with luxon (~17 ms of a CLI start): only schedules need it. */
export const cronParser = lazyModule<typeof import('cron-parser')>('cron-parser')

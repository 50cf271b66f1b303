// One rule for the NUL character in text written to a store: PostgreSQL's TEXT refuses it (SQLSTATE 22021),
// and text from outside reaches the store from many places (a URL parameter in an audit target, an identity
// field, a runtime's message). Every string parameter of every statement, on both stores, goes through
// `storeText`, so a NUL never fails a write (an audit entry of a hostile request included) and SQLite and
// PostgreSQL store, and look up, the same thing. Bytes (log chunks) are Buffers and are left alone.

/** The text with each NUL replaced by U+FFFD. */
export function storeText<T extends string | null | undefined>(text: T): T {
  return (typeof text === 'string' && text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text) as T
}

/** A statement's parameters with storeText applied to every string, positional or named (one level deep). */
export function storeParams(params: readonly unknown[]): unknown[] {
  // Nearly every statement's parameters hold no NUL and no named object: those are passed on as they are.
  if (params.every(isKept)) return params as unknown[]
  return params.map((p) => {
    if (typeof p === 'string') return storeText(p)
    if (p !== null && typeof p === 'object' && Object.getPrototypeOf(p) === Object.prototype) {
      return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'string' ? storeText(v) : v]))
    }
    return p
  })
}

/** A parameter storeParams leaves as it is: not a string with a NUL, not a plain object (named parameters). */
function isKept(p: unknown): boolean {
  if (typeof p === 'string') return !p.includes('\0')
  return p === null || typeof p !== 'object' || Object.getPrototypeOf(p) !== Object.prototype
}

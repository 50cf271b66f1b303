// Store URLs in anything shown (server start, status, logs, errors): the one place a password is taken out.
// A password may sit in the user info (`postgresql://user:pw@host/db`, even unencoded with `/`, `?` or `@` in
// it) or in the query (`?password=…`, `?sslpassword=…`); both are masked. A password kept out of the URL
// (PGPASSWORD, PGPASSFILE) never reaches here at all. Also which store a URL names, without loading any store.
import { CtlError } from '../errors.js'

/** The URL with every password replaced by `***`; other text (a SQLite path) as given. */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)
  if (!scheme) return url
  let rest = url.slice(scheme[0].length)
  // The user info ends at the last `@`: a host, port or database name holds none, an unencoded password may.
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    const info = rest.slice(0, at)
    const colon = info.indexOf(':')
    rest = (colon >= 0 ? `${info.slice(0, colon)}:***` : info) + rest.slice(at)
  }
  return scheme[0] + rest.replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1***')
}

export type StoreKind = 'sqlite' | 'postgres'

/**
 * Text that is neither a URL with `://` nor a plain path and may hold a password: libpq keyword strings
 * (`host=db password=…`), a scheme without `//` (`postgresql:ctl:pw@db/ctl`, `mysql:…`; one letter is a Windows
 * drive), anything naming a password. Taken as a SQLite path it would be printed and created as a file.
 */
function notAPath(url: string): boolean {
  if (/password/i.test(url)) return true
  if (/(^|\s)[a-z_]+\s*=/i.test(url)) return true
  return /^[a-z][a-z0-9+.-]+:/i.test(url) && !/^sqlite:/i.test(url)
}

/** Which store a URL names; E_USAGE for an unknown scheme, and for text that is neither a URL nor a path. */
export function storeKindOf(url: string): StoreKind {
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new CtlError('E_USAGE', `unknown store URL scheme in "${redactUrl(url)}" (expected a SQLite file path, sqlite:PATH, or postgresql://…)`)
  }
  if (notAPath(url)) {
    // Not shown: it may hold a password, and without a URL's shape there is no telling where.
    throw new CtlError('E_USAGE', 'the store is neither a postgresql://… URL nor a SQLite file path (connection strings such as "host=… password=…" are not accepted; the value is not shown, as it may hold a password)')
  }
  return 'sqlite'
}

/** The file a SQLite store URL names. */
export function sqliteFileOf(url: string): string {
  return url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url
}

// Serving the web console: `/` redirects to `/ui/`, and `/ui/*` answers the files of the bundle (dist/ui,
// built by esbuild from ui/). No authentication: the files hold no data, the API they call checks the
// session. Paths without a file extension are the console's own routes and get index.html; a missing file
// with an extension is a 404 (a script tag must not receive HTML). Hashed assets (`name-HASH.ext`) never
// change under their name, so they are cached for good; index.html is revalidated every time.
import { createReadStream, promises as fsp } from 'node:fs'
import path from 'node:path'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { CtlError } from '../errors.js'
import { packageRoot } from '../package-root.js'

export const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

/** esbuild's `[name]-[hash]` file names: a hash of 8 or more letters and digits before the extension. */
const HASHED = /-[A-Za-z0-9]{8,}\.[a-z0-9]+$/
/** Longest path under /ui/ looked at; the bundle's are short. */
const MAX_PATH = 512

export interface ConsoleOptions {
  /** The bundle's folder; default dist/ui of this ctl. */
  dir?: string
}

export function defaultConsoleDir(): string {
  return path.join(packageRoot(), 'dist', 'ui')
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
}

async function fileAt(file: string): Promise<{ size: number } | undefined> {
  try {
    const st = await fsp.stat(file)
    return st.isFile() ? { size: st.size } : undefined
  } catch {
    return undefined
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Publicly readable (no API key); the OpenAPI document says so. */
    public?: boolean
    /** false: not in the OpenAPI document (the console's files). */
    openapi?: boolean
  }
}

export const consoleRoutes: FastifyPluginAsync<ConsoleOptions> = async (fastify, opts) => {
  const root = path.resolve(opts.dir ?? defaultConsoleDir())

  fastify.get('/', { config: { public: true, openapi: false } }, async (_request, reply) => reply.redirect('/ui/', 302))
  fastify.get('/ui', { config: { public: true, openapi: false } }, async (_request, reply) => reply.redirect('/ui/', 301))

  fastify.get<{ Params: { '*': string } }>('/ui/*', { config: { public: true, openapi: false } }, async (request, reply) => {
    securityHeaders(reply)
    const index = path.join(root, 'index.html')
    if (!(await fileAt(index))) {
      throw new CtlError('E_NOT_FOUND', `this control plane was built without the web console (${root} has no index.html); build it with npm run build, or use the CLI and the API`)
    }
    const wanted = request.params['*'] ?? ''
    if (wanted.length > MAX_PATH) throw new CtlError('E_TOO_LARGE', `the path under /ui/ is longer than ${MAX_PATH} characters`)
    // Resolved inside the bundle's folder only: `..`, absolute paths and NUL never leave it.
    const file = path.resolve(root, '.' + path.posix.normalize('/' + wanted))
    const inside = file === root || file.startsWith(root + path.sep)
    let chosen = inside && !wanted.includes('\0') && wanted !== '' ? file : index
    let found = await fileAt(chosen)
    if (!found) {
      if (path.extname(wanted) !== '') throw new CtlError('E_NOT_FOUND', `no file ${wanted} in the console`)
      chosen = index
      found = await fileAt(index)
      if (!found) throw new CtlError('E_NOT_FOUND', 'the console has no index.html')
    }
    const ext = path.extname(chosen).toLowerCase()
    reply.header('content-type', TYPES[ext] ?? 'application/octet-stream')
    reply.header('content-length', String(found.size))
    reply.header('cache-control', chosen !== index && HASHED.test(path.basename(chosen)) ? 'public, max-age=31536000, immutable' : 'no-cache')
    return reply.send(createReadStream(chosen))
  })
}

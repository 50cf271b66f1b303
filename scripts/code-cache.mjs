// The one rule for the V8 code caches the build writes next to code that a CLI start compiles through node:vm
// (oclif's bundle, the precompiled validators). V8 takes a cache for any source of the same length (it checks
// nothing else of the source) and would then run the code the cache was made from: so a cache begins with a copy of
// its very source and is used for that source only (comparing the bytes costs far less at each CLI start than
// loading node:crypto to hash them); and, being code, only when no one but the source's owner could have written it
// (same owner, not writable by group or others). The generated loaders (CommonJS and ES modules alike) get these very
// functions as text (CODE_CACHE_FUNCTIONS) and pass in `fs`.

/**
 * V8's data of the code cache for `source` (a Buffer, read from `sourceFile`), or why there is none: 'missing',
 * 'stale' (made from another source), 'unsafe' (someone but the source's owner could have written it).
 */
export function codeCacheOf(fs, sourceFile, source) {
  let fd
  try {
    fd = fs.openSync(sourceFile + '.cache', 'r')
  } catch {
    return 'missing'
  }
  try {
    const st = fs.fstatSync(fd)
    if (st.uid !== fs.statSync(sourceFile).uid || (st.mode & 0o022) !== 0) return 'unsafe'
    const data = fs.readFileSync(fd)
    if (data.length <= source.length || !data.subarray(0, source.length).equals(source)) return 'stale'
    return data.subarray(source.length)
  } finally {
    fs.closeSync(fd)
  }
}

/** The content of the code cache file for `source`: the source itself, then V8's data. */
export function sealedCodeCache(source, data) {
  return Buffer.concat([source, data])
}

export const CODE_CACHE_FUNCTIONS = `${codeCacheOf}\n${sealedCodeCache}\n`.replace(/^export /gm, '')

// @ts-check
// Step outputs: the file a step names by $CTL_OUTPUTS, in the format of GitHub Actions' $GITHUB_OUTPUT
// (`KEY=VALUE` lines, `KEY<<DELIM` … `DELIM` for multi-line values). ONE implementation, used by the
// step host (step.mjs, plain JavaScript that runs without a compile step) as a step ends, and by the
// Kubernetes runtime on a Pod's termination message (through outputs.d.mts). Pure: the bounds come
// from the caller (src/manifest/limits.ts OUTPUT_LIMITS), so this file needs no TypeScript import.

/** Output names: what a template (`{{.steps.S.outputs.KEY}}`) and CEL can name. */
const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/
/** The part of a bad line quoted in a problem: enough to find it, never a whole value. */
const QUOTE_MAX = 60
/** Problems reported at most; the first one is what the step's end reason shows. */
const PROBLEMS_MAX = 5

/**
 * @typedef {{ maxBytes: number, maxKeys: number, maxKeyLength: number }} OutputLimits
 * @typedef {{ outputs: Record<string, string>, problems: string[] }} ParsedOutputs
 */

/** @param {string} s */
function quote(s) {
  return JSON.stringify(s.length > QUOTE_MAX ? s.slice(0, QUOTE_MAX) + '…' : s)
}

/** A size as people write it (`64 MiB`, `256 KiB`, `1000 bytes`). @param {number} n */
export function sizeText(n) {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`
}

/**
 * Reads an outputs file. Later lines override earlier ones; empty lines are skipped; only `\n` ends a
 * line (a `\r` stays part of the value, so what is written is what is read). `problems` is empty when
 * the whole text was read; otherwise the step must fail with the first one (nothing is dropped silently).
 * @param {string} text @param {OutputLimits} limits @returns {ParsedOutputs}
 */
export function parseOutputs(text, limits) {
  /** @type {Record<string, string>} */
  const outputs = Object.create(null)
  /** @type {string[]} */
  const problems = []
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > limits.maxBytes) return { outputs: {}, problems: [`the file is over the limit of ${sizeText(limits.maxBytes)}`] }
  const lines = text.split('\n')
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop() // the newline that ends the last line
  let count = 0
  /** @param {number} n @param {string} key @returns {boolean} */
  const keyOk = (n, key) => {
    if (key.length > limits.maxKeyLength) return problem(n, `key ${quote(key)} is longer than ${limits.maxKeyLength} characters`)
    if (!KEY.test(key)) return problem(n, `key ${quote(key)} is not a name (letters, digits, _ and -, not starting with a digit or -)`)
    if (!Object.prototype.hasOwnProperty.call(outputs, key) && ++count > limits.maxKeys) return problem(n, `more than ${limits.maxKeys} keys`)
    return true
  }
  /** @param {number} n @param {string} what @returns {false} */
  const problem = (n, what) => {
    if (problems.length < PROBLEMS_MAX) problems.push(`line ${n}: ${what}`)
    return false
  }
  for (let i = 0; i < lines.length; i++) {
    const line = /** @type {string} */ (lines[i])
    const n = i + 1
    if (line === '') continue
    const eq = line.indexOf('=')
    const heredoc = line.indexOf('<<')
    // As GitHub reads it: whichever of `=` and `<<` comes first decides the form.
    if (eq >= 0 && (heredoc < 0 || eq < heredoc)) {
      const key = line.slice(0, eq)
      if (keyOk(n, key)) outputs[key] = line.slice(eq + 1)
      continue
    }
    if (heredoc < 0) {
      problem(n, `${quote(line)} is not KEY=VALUE or KEY<<DELIMITER`)
      continue
    }
    const key = line.slice(0, heredoc)
    const delim = line.slice(heredoc + 2)
    if (delim === '') {
      problem(n, `${quote(line)}: the delimiter after << is empty`)
      continue
    }
    let end = i + 1
    while (end < lines.length && lines[end] !== delim) end++
    if (end >= lines.length) {
      problem(n, `${quote(key)}: no line ${quote(delim)} closes the value started here`)
      break // everything after belongs to the unclosed value
    }
    if (keyOk(n, key)) outputs[key] = lines.slice(i + 1, end).join('\n')
    i = end
  }
  return { outputs: problems.length > 0 ? {} : { ...outputs }, problems }
}

/**
 * Writes outputs in the format parseOutputs reads (a value with a newline as KEY<<DELIM with a delimiter
 * that is no line of it): what a step, a test or the fake kubelet writes.
 * @param {Record<string, string>} outputs @returns {string}
 */
export function formatOutputs(outputs) {
  let out = ''
  for (const [key, value] of Object.entries(outputs)) {
    if (!value.includes('\n')) {
      out += `${key}=${value}\n`
      continue
    }
    const lines = new Set(value.split('\n'))
    let delim = 'EOF'
    for (let k = 0; lines.has(delim); k++) delim = `EOF_${k}`
    out += `${key}<<${delim}\n${value}\n${delim}\n`
  }
  return out
}

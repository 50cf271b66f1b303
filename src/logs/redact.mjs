// @ts-check
// Redaction of secret values: ONE implementation, used by the step host (step.mjs) on every log
// line and exit message before they reach the disk, by the engine (through redact.d.mts and
// src/secrets/redact.ts) on what it stores itself, and by the Kubernetes runtime on Pod logs. Plain JavaScript like the rest of the step host,
// which runs without a compile step. A value is matched as is, in its encoded forms (base64, URL,
// hex, JSON escapes; see redactionForms) and inside percent-encoded text of any variant. Every match
// becomes the same marker, so the length of a value is never revealed.

export const REDACTED = '[redacted]'
/** Shorter values are not redacted: masking "1" or "on" would garble every line. */
const MIN_VALUE = 3
/** Lines of multi-line values (certificates) and base64 fragments shorter than this are not redacted on their own. */
const MIN_PART = 8

const UNRESERVED = /[A-Za-z0-9\-._~]/

/** Every byte but the unreserved ones as %XX (what Python's quote(v, safe='') and most "encode all" helpers give). */
function percentAll(/** @type {string} */ v) {
  let out = ''
  for (const b of Buffer.from(v, 'utf8')) {
    const c = String.fromCharCode(b)
    out += b < 0x80 && UNRESERVED.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/**
 * The base64 characters that depend on `v` alone when it sits at byte offset 0, 1 or 2 of a longer
 * encoded text (e.g. `user:PASSWORD` base64-encoded as a Basic auth header).
 * @param {Buffer} bytes @returns {string[]}
 */
function base64Cores(bytes) {
  const out = []
  for (let k = 0; k < 3; k++) {
    const enc = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64')
    const from = Math.ceil((8 * k) / 6)
    const to = Math.floor((8 * (k + bytes.length)) / 6)
    if (to - from >= MIN_PART) out.push(enc.slice(from, to))
  }
  return out
}

/**
 * The literal strings to redact for these secret values: each value (at least MIN_VALUE long), each
 * longer line of a multi-line value, and their base64 (padded, unpadded, URL-safe, and the fragments
 * of `v` inside a longer base64 text), URL-encoded (encodeURIComponent, all-encoded, `+` for spaces),
 * hex (lower and upper case, packed as `xxd -p` prints it and byte by byte as `od -tx1` does) and
 * JSON-escaped forms. `extra`: forms computed before (added as they are). Longest first.
 * @param {readonly string[]} values @param {readonly string[]} [extra] @returns {string[]}
 */
export function redactionForms(values, extra = []) {
  /** @type {Set<string>} */
  const out = new Set(extra.filter((f) => typeof f === 'string' && f.length > 0))
  /** @param {string} v */
  const addForms = (v) => {
    out.add(v)
    const bytes = Buffer.from(v, 'utf8')
    const b64 = bytes.toString('base64')
    const b64url = bytes.toString('base64url')
    for (const f of [b64, b64.replace(/=+$/, ''), b64url, ...base64Cores(bytes)]) out.add(f)
    for (const core of base64Cores(bytes)) out.add(core.replace(/\+/g, '-').replace(/\//g, '_'))
    for (const u of [encodeURIComponent(v), percentAll(v)]) {
      out.add(u)
      if (u.includes('%20')) out.add(u.replace(/%20/g, '+'))
    }
    // Hex is byte-aligned: a value inside a longer hex dump is found as its own hex.
    const hex = bytes.toString('hex')
    const spaced = hex.replace(/(..)(?!$)/g, '$1 ')
    for (const h of [hex, spaced]) {
      out.add(h)
      out.add(h.toUpperCase())
    }
    const json = JSON.stringify(v).slice(1, -1)
    if (json !== v) out.add(json)
  }
  for (const v of values) {
    if (typeof v !== 'string' || v.length < MIN_VALUE) continue
    // The whole value also when it spans lines: its encoded forms are one line each.
    addForms(v)
    if (!v.includes('\n')) continue
    for (const raw of v.split('\n')) {
      const line = raw.replace(/\r$/, '')
      if (line.trim().length >= MIN_PART) addForms(line)
    }
  }
  return [...out].filter((f) => !f.includes('\n')).sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
}

/**
 * Percent-decodes `text` (any variant: upper or lower hex, `+` as a space when `plus`), remembering
 * for each decoded UTF-16 unit which span of `text` it came from. Undefined when nothing decodes.
 * @param {string} text @param {boolean} plus
 */
function percentDecode(text, plus) {
  let out = ''
  /** @type {number[]} */
  const start = []
  /** @type {number[]} */
  const end = []
  let changed = false
  /** @param {number} at */
  const hexAt = (at) => (/^[0-9A-Fa-f]{2}$/.test(text.slice(at + 1, at + 3)) ? parseInt(text.slice(at + 1, at + 3), 16) : -1)
  for (let i = 0; i < text.length; ) {
    const c = text[i]
    if (c === '%') {
      const b0 = hexAt(i)
      if (b0 >= 0) {
        // One UTF-8 sequence: its lead byte says how many %XX follow.
        const n = b0 < 0xc0 ? 1 : b0 < 0xe0 ? 2 : b0 < 0xf0 ? 3 : 4
        const bytes = [b0]
        let j = i + 3
        while (bytes.length < n && text[j] === '%' && hexAt(j) >= 0) {
          bytes.push(hexAt(j))
          j += 3
        }
        if (bytes.length === n) {
          for (const unit of Buffer.from(bytes).toString('utf8')) {
            for (let u = 0; u < unit.length; u++) {
              start.push(i)
              end.push(j)
            }
            out += unit
          }
          changed = true
          i = j
          continue
        }
      }
    }
    if (plus && c === '+') {
      out += ' '
      changed = true
    } else out += c
    start.push(i)
    end.push(i + 1)
    i++
  }
  return changed ? { text: out, start, end } : undefined
}

/**
 * A function that replaces every occurrence of the forms (see redactionForms) in a text with
 * REDACTED; overlapping and adjacent matches become one marker. `truncated`: the text was cut, so
 * a value may have been cut too: a trailing piece that starts a form is redacted as well.
 * @param {readonly string[]} forms @returns {(text: string, truncated?: boolean) => string}
 */
export function createRedactor(forms) {
  const list = [...new Set(forms)].filter((f) => typeof f === 'string' && f.length > 0).sort((a, b) => b.length - a.length)
  if (list.length === 0) return (text) => text
  const spacey = list.some((f) => f.includes(' '))
  return (text, truncated = false) => {
    if (!text) return text
    /** @type {[number, number][]} */
    const spans = []
    for (const f of list) {
      for (let i = text.indexOf(f); i >= 0; i = text.indexOf(f, i + 1)) spans.push([i, i + f.length])
    }
    if (text.includes('%') || (spacey && text.includes('+'))) {
      for (const plus of spacey ? [false, true] : [false]) {
        const d = percentDecode(text, plus)
        if (!d) continue
        for (const f of list) {
          for (let i = d.text.indexOf(f); i >= 0; i = d.text.indexOf(f, i + 1)) spans.push([d.start[i] ?? 0, d.end[i + f.length - 1] ?? text.length])
        }
      }
    }
    if (truncated) {
      for (const f of list) {
        for (let n = Math.min(f.length - 1, text.length); n >= MIN_VALUE; n--) {
          if (text.endsWith(f.slice(0, n))) {
            spans.push([text.length - n, text.length])
            break
          }
        }
      }
    }
    if (spans.length === 0) return text
    spans.sort((a, b) => a[0] - b[0])
    let out = ''
    let at = 0
    for (let k = 0; k < spans.length; ) {
      const s = spans[k][0]
      let e = spans[k][1]
      k++
      while (k < spans.length && spans[k][0] <= e) e = Math.max(e, spans[k++][1])
      out += text.slice(at, s) + REDACTED
      at = e
    }
    return out + text.slice(at)
  }
}

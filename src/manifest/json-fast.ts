// A manifest written as JSON (JSON is YAML) parsed by JSON.parse instead of the YAML composer:
// a hundred times faster, and the `yaml` package is not even loaded. Taken only when the value is
// certainly the one the YAML path gives (src/manifest/load.ts); anything else (duplicate keys,
// tabs, keys split over lines, huge integers, merge keys, too deep, `$` to interpolate, …) says
// undefined and the YAML path decides, with its located errors. Positions are not needed for a
// valid document: the caller builds them from the YAML path on the first located issue.
// Raw characters YAML reads differently from JSON (tabs and CR as separators, C1 controls, the
// Unicode line separators, a BOM, lone surrogates): the YAML path decides.
const NOT_PLAIN_JSON = /[\t\r\u007f-\u009f\u2028\u2029\ufeff\ud800-\udfff]/u
// `<<` is a merge key to YAML; `__proto__` becomes an own key differently.
const SPECIAL_KEYS = /"(?:<<|__proto__)"/
// Every string of the text, and whether a `:` follows it (a key). Outside strings, JSON has no
// quote, so matching strings one after another tokenizes the text.
const STRING_TOKEN = /"(?:[^"\\]|\\.)*"(\s*:)?/g
// YAML reads an implicit key of at most 1024 characters.
const MAX_KEY_LENGTH = 1000

/** The document's value when `text` is one JSON object YAML reads identically; otherwise undefined. */
export function jsonDocumentValue(text: string, maxDepth: number): Record<string, unknown> | undefined {
  if (!/^[ \n]*\{/.test(text) || NOT_PLAIN_JSON.test(text) || SPECIAL_KEYS.test(text)) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  let keysInText = 0
  for (const m of text.matchAll(STRING_TOKEN)) {
    if (m[1] === undefined) continue
    // A key whose `:` is on a later line: the YAML path judges it (and it must still be counted,
    // or a repeated key elsewhere would go unseen).
    if (m[1].includes('\n')) return undefined
    keysInText++
  }
  const shape = plainShape(value, maxDepth)
  // Fewer keys in the value than written: a duplicate key, which YAML refuses.
  if (!shape || shape.keys !== keysInText) return undefined
  return value as Record<string, unknown>
}

/** Own keys counted, or undefined when a nesting, key or number is one the YAML path must judge. */
function plainShape(root: unknown, maxDepth: number): { keys: number } | undefined {
  let keys = 0
  const stack: [unknown, number][] = [[root, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (typeof node === 'number') {
      // YAML reads integers with parseInt: beyond 2^53 the two may round differently.
      if (Number.isInteger(node) && !Number.isSafeInteger(node)) return undefined
      continue
    }
    if (typeof node !== 'object' || node === null) continue
    if (depth > maxDepth) return undefined
    if (Array.isArray(node)) {
      for (const item of node) stack.push([item, depth + 1])
      continue
    }
    for (const key of Object.keys(node)) {
      if (key.length > MAX_KEY_LENGTH) return undefined
      keys++
      stack.push([(node as Record<string, unknown>)[key], depth + 1])
    }
  }
  return { keys }
}

// "Did you mean" suggestions. Candidates are always a small set (the keys
// allowed at one place, the step names of one workflow), and a suggestion is
// only computed once something is already wrong, so the quadratic edit
// distance per pair never runs on the happy path.

/** Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions). */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (a === b) return 0
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prev2: number[] = []
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur: number[] = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1)
      cur.push(d)
      if (d < rowMin) rowMin = d
    }
    if (rowMin > max) return max + 1
    prev2 = prev
    prev = cur
  }
  return prev[b.length]!
}

/** Renames between manifest versions that edit distance cannot find. */
const KNOWN_RENAMES: Record<string, string[]> = {
  dependencies: ['depends'],
  depends: ['dependencies'],
  dependson: ['depends', 'dependencies'],
  cron: ['crons'],
  crons: ['cron'],
  env: ['envs', 'environmentVars'],
  environment: ['envs', 'environmentVars'],
  tz: ['timezone'],
  stackspec: ['stackSpec'],
  // The body key of the other workflow version.
  spec: ['workflow'],
  workflow: ['spec'],
}

export interface SuggestOptions {
  /**
   * The candidates are a short list the user declared (params, aliases, steps, a stack's fields): among so few,
   * a short word two edits away (`m` for `n`, `ap` for `app`) and a long one a third of its letters away are
   * still typos worth naming.
   */
  declared?: boolean
}

/**
 * The candidate closest to `word` (case-insensitive), if it is within an edit
 * distance of 2, one is a prefix of the other, or it is a known rename.
 */
export function didYouMean(word: string, candidates: Iterable<string>, options: SuggestOptions = {}): string | undefined {
  const lower = word.toLowerCase()
  const list = [...candidates]
  // Own keys only: a field named "constructor" or "toString" must not find Object.prototype's.
  const renames = Object.hasOwn(KNOWN_RENAMES, lower) ? KNOWN_RENAMES[lower]! : []
  for (const rename of renames) if (list.includes(rename)) return rename
  // Short words allow fewer edits: one letter away from "x" is a guess, not a typo (but among declared names).
  const maxEdits = options.declared ? Math.max(2, Math.floor(lower.length / 3)) : Math.min(2, Math.floor(lower.length / 3))
  let best: string | undefined
  let bestScore = Infinity
  for (const candidate of list) {
    const c = candidate.toLowerCase()
    if (c === lower) return candidate
    let score = editDistance(lower, c, maxEdits)
    if (score > maxEdits) score = Infinity
    // A prefix match ("dep" → "depends") is a weaker hint than a near-typo.
    if (score === Infinity && lower.length >= 3 && c.length >= 3 && (c.startsWith(lower) || lower.startsWith(c))) score = 2.5
    if (score < bestScore) {
      best = candidate
      bestScore = score
    }
  }
  return best
}

/** `; did you mean "x"?` or the empty string. */
export function suggestionSuffix(word: string, candidates: Iterable<string>): string {
  const hit = didYouMean(word, candidates)
  return hit === undefined ? '' : `; did you mean "${hit}"?`
}

/** `unknown x "y"; did you mean "z"? Known: a, b` or `unknown x "y"; known: a, b`. */
export function unknownMessage(what: string, word: string, known: readonly string[], label = 'known'): string {
  const suggestion = suggestionSuffix(word, known)
  const list = known.join(', ')
  if (suggestion) return `unknown ${what} "${word}"${suggestion} ${label[0]!.toUpperCase()}${label.slice(1)}: ${list}`
  return `unknown ${what} "${word}"; ${label}: ${list}`
}

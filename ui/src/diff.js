// A line diff (longest common subsequence) of two texts: [{op: ' ' | '-' | '+', text}]. Manifests are
// small; past MAX_CELLS the table would be too big, so the diff falls back to whole-text replace.
const MAX_CELLS = 4_000_000

export function lineDiff(a, b) {
  const x = a.split('\n')
  const y = b.split('\n')
  // Common head and tail first: most revisions change a few lines in the middle.
  let head = 0
  while (head < x.length && head < y.length && x[head] === y[head]) head++
  let tail = 0
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++
  const xs = x.slice(head, x.length - tail)
  const ys = y.slice(head, y.length - tail)
  const out = x.slice(0, head).map((text) => ({ op: ' ', text }))
  const n = xs.length
  const m = ys.length
  if (n * m > MAX_CELLS) {
    for (const text of xs) out.push({ op: '-', text })
    for (const text of ys) out.push({ op: '+', text })
  } else {
    // lcs[i][j]: length of the LCS of xs[i..] and ys[j..], flattened.
    const w = m + 1
    const lcs = new Uint32Array((n + 1) * w)
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = xs[i] === ys[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1])
      }
    }
    let i = 0
    let j = 0
    while (i < n && j < m) {
      if (xs[i] === ys[j]) { out.push({ op: ' ', text: xs[i] }); i++; j++ } else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) out.push({ op: '-', text: xs[i++] })
      else out.push({ op: '+', text: ys[j++] })
    }
    while (i < n) out.push({ op: '-', text: xs[i++] })
    while (j < m) out.push({ op: '+', text: ys[j++] })
  }
  for (const text of x.slice(x.length - tail)) out.push({ op: ' ', text })
  return out
}

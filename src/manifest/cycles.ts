// Dependency cycles of a DAG in linear time: Tarjan's strongly connected
// components, iterative so a 5,000-step chain cannot overflow the stack, then
// one concrete cycle per component for the message.

/**
 * `edges[i]` lists the nodes node `i` depends on. Returns one cycle per
 * strongly connected component that has one, as node indexes starting at the
 * component's smallest index and ending where it started (`[0, 2, 1, 0]`).
 */
export function findCycles(edges: readonly (readonly number[])[]): number[][] {
  const n = edges.length
  const index = new Int32Array(n).fill(-1)
  const low = new Int32Array(n)
  const onStack = new Uint8Array(n)
  const stack: number[] = []
  const components: number[][] = []
  let counter = 0
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue
    // Frames of the simulated recursion: node and the next edge to follow.
    const frames: [number, number][] = [[root, 0]]
    index[root] = low[root] = counter++
    stack.push(root)
    onStack[root] = 1
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!
      const [v, next] = frame
      const out = edges[v]!
      if (next < out.length) {
        frame[1]++
        const w = out[next]!
        if (index[w] === -1) {
          index[w] = low[w] = counter++
          stack.push(w)
          onStack[w] = 1
          frames.push([w, 0])
        } else if (onStack[w]) low[v] = Math.min(low[v]!, index[w]!)
        continue
      }
      frames.pop()
      if (frames.length > 0) {
        const parent = frames[frames.length - 1]![0]
        low[parent] = Math.min(low[parent]!, low[v]!)
      }
      if (low[v] === index[v]) {
        const component: number[] = []
        let w: number
        do {
          w = stack.pop()!
          onStack[w] = 0
          component.push(w)
        } while (w !== v)
        if (component.length > 1 || edges[v]!.includes(v)) components.push(component)
      }
    }
  }
  return components.map((c) => cycleWithin(edges, c)).sort((a, b) => a[0]! - b[0]!)
}

/** Shortest cycle through the component's first node, by breadth-first search inside the component. */
function cycleWithin(edges: readonly (readonly number[])[], component: number[]): number[] {
  const members = new Set(component)
  const start = Math.min(...component)
  const parent = new Map<number, number>()
  const queue = [start]
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head]!
    for (const w of edges[v]!) {
      if (!members.has(w)) continue
      if (w === start) {
        const path = [start]
        for (let u = v; u !== start; u = parent.get(u)!) path.push(u)
        path.push(start)
        // Collected backwards from v; reverse the inner part to read start → … → v → start.
        return [start, ...path.slice(1, -1).reverse(), start]
      }
      if (!parent.has(w)) {
        parent.set(w, v)
        queue.push(w)
      }
    }
  }
  return [start, start]
}

// Reading a text/event-stream body (the console's streams): one { event, data } per event, data parsed as
// JSON; comments (heartbeats) skipped.

export interface ServerEvent {
  event: string
  data: unknown
}

export async function* readServerEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerEvent> {
  const decoder = new TextDecoder()
  let rest = ''
  for await (const chunk of body) {
    const blocks = (rest + decoder.decode(chunk, { stream: true })).split('\n\n')
    rest = blocks.pop()!
    for (const block of blocks) {
      const parsed = parseBlock(block)
      if (parsed) yield parsed
    }
  }
  const parsed = parseBlock(rest + decoder.decode())
  if (parsed) yield parsed
}

function parseBlock(block: string): ServerEvent | undefined {
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  return data.length > 0 ? { event, data: JSON.parse(data.join('\n')) as unknown } : undefined
}

// @ts-check
// The step host's side of its unix socket (supervisor.mjs keeps the steps): the handshake that
// authenticates each peer (see supervisor.mjs), NDJSON framing, replies and notices written once
// per turn of the event loop, and the exits the host could not record, replayed to each client
// that connects. Plain JavaScript like the host (see step.mjs).

import crypto from 'node:crypto'
import net from 'node:net'

/** An unauthenticated connection gets this long to prove itself (it does not keep the host alive meanwhile). */
const AUTH_TIMEOUT_MS = 5000

/**
 * The host's server, not listening yet, and how the host talks through it.
 * @param {{
 *   token: Buffer,
 *   hello: { pid: number, start: string | null },
 *   onRequest: (socket: net.Socket, msg: any) => void,
 *   onPeersChanged: () => void,
 * }} opts `hello`: this host, told to every peer; `onRequest`: an authenticated client's request; `onPeersChanged`:
 * a connection came, was authenticated or went
 */
export function hostSocket({ token, hello, onRequest, onPeersChanged }) {
  /** @param {string} label @param {string} nonce */
  const proof = (label, nonce) => crypto.createHmac('sha256', token).update(`${label}:${nonce}`).digest()

  /** Constant-time check of a hex proof against the expected one. @param {unknown} hex @param {Buffer} expected */
  function proves(hex, expected) {
    if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) return false
    return crypto.timingSafeEqual(Buffer.from(hex, 'hex'), expected)
  }

  /** @type {Set<net.Socket>} */
  const clients = new Set()
  /** Connections still in their handshake: they keep the host up (for at most AUTH_TIMEOUT_MS each), get nothing else. */
  let handshakes = 0

  /** @type {Set<string>} attempt folders with news not yet sent */
  const news = new Set()

  /** @type {Map<string, { exit: import('./step.mjs').StepExit, end: number | undefined }>} exits of ended steps (and
   * their logs' size before the exit record), for the next batch of notices */
  const exits = new Map()

  /** @type {Map<net.Socket, string>} lines for each connection not written yet (replies, the handshake) */
  const outbox = new Map()
  let flushQueued = false

  /**
   * Everything the host sends goes out once per turn of the event loop, one write per connection: the replies to
   * a burst of starts and the notices of a burst of exits (a DAG's layer) wake the control plane once, not per step.
   */
  function queueFlush() {
    if (flushQueued) return
    flushQueued = true
    setImmediate(flush)
  }

  function flush() {
    flushQueued = false
    let out = ''
    for (const d of news) {
      const ended = exits.get(d)
      out += JSON.stringify({ ev: 'change', dir: d, exit: ended?.exit, end: ended?.end }) + '\n'
    }
    news.clear()
    exits.clear()
    // Replies first: a start's reply is never later than a notice of its step.
    if (out) for (const c of clients) outbox.set(c, (outbox.get(c) ?? '') + out)
    for (const [c, text] of outbox) if (!c.destroyed) c.write(text)
    outbox.clear()
  }

  /**
   * Tells every client that the attempt folder changed (and, once the step ended, how, and how far its log's lines go:
   * a follower that has read that far need not look at the log).
   * Coalesced per event-loop turn: a burst of exits or output chunks costs one write per client.
   * @param {string} dir @param {import('./step.mjs').StepExit} [exit] @param {number} [end]
   */
  function notice(dir, exit, end) {
    if (clients.size === 0) return
    news.add(dir)
    if (exit) exits.set(dir, { exit, end })
    queueFlush()
  }

  /**
   * Exits the host could not record in their logs (the log cannot be written: an I/O error), by attempt folder, as the
   * notice line a client that connects later is sent (readers find no exit in the log while this host lives). Bounded
   * in count and bytes, the oldest going first: a step controls its exit's outputs and message, and a full disk is
   * something a workspace member can cause. An exit too large to keep whole is kept as a failure without its
   * outputs. All are gone with the host (a reader then reports the step Lost).
   * @type {Map<string, string>}
   */
  const unrecorded = new Map()
  const UNRECORDED_KEPT = 1024
  const UNRECORDED_BYTES = 4 << 20
  const UNRECORDED_LINE_MAX = 16 << 10
  let unrecordedBytes = 0

  /** @param {string} dir @param {import('./step.mjs').StepExit} exit */
  function keepUnrecorded(dir, exit) {
    let line = JSON.stringify({ ev: 'change', dir, exit }) + '\n'
    if (line.length > UNRECORDED_LINE_MAX) {
      const message = `the step's log could not be written, and its end (${exit.reason}) was too large to keep; its outputs are lost`
      line = JSON.stringify({ ev: 'change', dir, exit: { exitCode: exit.exitCode, reason: 'Error', message, finishedAt: exit.finishedAt } }) + '\n'
    }
    unrecordedBytes += line.length - (unrecorded.get(dir)?.length ?? 0)
    unrecorded.delete(dir)
    unrecorded.set(dir, line)
    for (const [oldest, kept] of unrecorded) {
      if (unrecorded.size <= UNRECORDED_KEPT && unrecordedBytes <= UNRECORDED_BYTES) break
      unrecorded.delete(oldest)
      unrecordedBytes -= kept.length
    }
  }

  /** @param {net.Socket} socket @param {Record<string, unknown>} msg */
  function reply(socket, msg) {
    if (socket.destroyed) return
    outbox.set(socket, (outbox.get(socket) ?? '') + JSON.stringify(msg) + '\n')
    queueFlush()
  }

  const server = net.createServer((socket) => {
    const nonce = crypto.randomBytes(32).toString('hex')
    let authed = false
    // Not yet a client: gets no notices, but the host waits for its handshake before an idle exit.
    handshakes++
    onPeersChanged()
    const authTimer = setTimeout(() => socket.destroy(), AUTH_TIMEOUT_MS)
    socket.setEncoding('utf8')
    let buf = ''
    socket.on('data', (chunk) => {
      buf += chunk
      // An unauthenticated peer may send one short line, no more.
      if (!authed && buf.length > 1024 && buf.indexOf('\n') < 0) return socket.destroy()
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let msg
        try {
          msg = JSON.parse(text)
        } catch {
          socket.destroy() // not our protocol
          return
        }
        if (!authed) {
          const theirs = msg?.nonce
          if (!proves(msg?.auth, proof('client', nonce)) || typeof theirs !== 'string' || !/^[0-9a-f]{32,128}$/.test(theirs)) {
            socket.destroy()
            return
          }
          authed = true
          handshakes--
          clearTimeout(authTimer)
          clients.add(socket)
          onPeersChanged()
          reply(socket, { authed: proof('host', theirs).toString('hex') })
          // To this client alone, after its handshake's reply (the others were told when the steps ended).
          if (unrecorded.size > 0) outbox.set(socket, (outbox.get(socket) ?? '') + [...unrecorded.values()].join(''))
          continue
        }
        onRequest(socket, msg)
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(authTimer)
      if (!authed) handshakes--
      clients.delete(socket)
      onPeersChanged()
    })
    reply(socket, { hello: { pid: hello.pid, start: hello.start, nonce } })
  })

  return {
    server,
    reply,
    notice,
    flush,
    keepUnrecorded,
    /** Whether the step that ran in `dir` ended without its exit recorded (its end was told). @param {string} dir */
    unrecordedHas: (dir) => unrecorded.has(dir),
    /** Connections open (clients and those still in their handshake): each keeps the host up. */
    peers: () => clients.size + handshakes,
  }
}

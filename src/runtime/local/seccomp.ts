// A seccomp filter for bubblewrap sandboxes (--add-seccomp-fd): ptrace and the cross-process
// memory calls answer EPERM. Everything else a step could use against the host is already gone
// with its capabilities (mount, umount, mknod, raw sockets, module loading) or its namespaces;
// a step may only ever see its own processes, but it has no reason to trace them either, and the
// filter keeps that true should a later change share a pid namespace. Classic BPF over
// struct seccomp_data (nr at offset 0, arch at offset 4), built once.

/** AUDIT_ARCH_* → the syscall numbers refused on that architecture: ptrace, process_vm_readv, process_vm_writev. */
const ARCHES: { arch: number; nrs: number[]; x32?: boolean }[] = [
  { arch: 0xc000003e, nrs: [101, 310, 311], x32: true }, // x86_64 (and its x32 ABI, refused whole)
  { arch: 0x40000003, nrs: [26, 347, 348] }, // i386, also reachable from x86_64
  { arch: 0xc00000b7, nrs: [117, 270, 271] }, // aarch64
]

const LD_W_ABS = 0x20
const JEQ_K = 0x15
const JSET_K = 0x45
const RET_K = 0x06
const RET_ALLOW = 0x7fff0000
const RET_EPERM = 0x00050000 | 1
const X32_BIT = 0x40000000

type Insn = { code: number; jt: number; jf: number; k: number; deny?: 'jt' }

let cached: Buffer | undefined
let cachedBase64: string | undefined

/** The filter as the step host is sent it (base64): encoded once, not per step. */
export function seccompFilterBase64(): string {
  cachedBase64 ??= seccompFilter().toString('base64')
  return cachedBase64
}

/** The filter as bwrap reads it from a file descriptor: an array of struct sock_filter, little-endian. */
export function seccompFilter(): Buffer {
  if (cached) return cached
  const prog: Insn[] = [{ code: LD_W_ABS, jt: 0, jf: 0, k: 4 }]
  for (const a of ARCHES) {
    const block: Insn[] = [{ code: LD_W_ABS, jt: 0, jf: 0, k: 0 }]
    if (a.x32) block.push({ code: JSET_K, jt: 0, jf: 0, k: X32_BIT, deny: 'jt' })
    for (const nr of a.nrs) block.push({ code: JEQ_K, jt: 0, jf: 0, k: nr, deny: 'jt' })
    block.push({ code: RET_K, jt: 0, jf: 0, k: RET_ALLOW })
    prog.push({ code: JEQ_K, jt: 0, jf: block.length, k: a.arch }, ...block)
  }
  prog.push({ code: RET_K, jt: 0, jf: 0, k: RET_ALLOW }) // an architecture not listed: its numbers are unknown here
  prog.push({ code: RET_K, jt: 0, jf: 0, k: RET_EPERM })
  const denyAt = prog.length - 1
  const buf = Buffer.alloc(prog.length * 8)
  prog.forEach((ins, i) => {
    const jt = ins.deny ? denyAt - (i + 1) : ins.jt
    buf.writeUInt16LE(ins.code, i * 8)
    buf.writeUInt8(jt, i * 8 + 2)
    buf.writeUInt8(ins.jf, i * 8 + 3)
    buf.writeUInt32LE(ins.k >>> 0, i * 8 + 4)
  })
  cached = buf
  return buf
}

// A control plane in a child process for the benchmarks, so that the client's work never shares its event loop.
// It answers {type:'usage'} over IPC with its own CPU time and peak RSS (maxRSS: the kernel's high-water mark,
// so no sampling can miss a peak). Not a benchmark itself (run.mjs picks up *.bench.mjs only).
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const serverModule = pathToFileURL(path.join(root, 'dist', 'src', 'controlplane', 'control-plane.js')).href

/** `options`: startControlPlane's (JSON). Resolves once it listens, with its URL, the admin token, usage() and close(). */
export async function startPlaneProcess(options) {
  const code = `
    const { startControlPlane } = await import(${JSON.stringify(serverModule)})
    const plane = await startControlPlane(${JSON.stringify(options)})
    process.on('message', (m) => {
      if (m?.type !== 'usage') return
      const cpu = process.cpuUsage()
      process.send({ type: 'usage', id: m.id, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMB: process.resourceUsage().maxRSS / 1024 })
    })
    process.on('SIGTERM', async () => { await plane.close(); process.exit(0) })
    process.send({ type: 'ready', url: plane.url, token: plane.adminToken })
  `
  // PLANE_ARGS: extra node flags for the plane alone (e.g. "--cpu-prof --cpu-prof-dir=DIR" to profile it).
  const extra = (process.env.PLANE_ARGS ?? '').split(' ').filter(Boolean)
  const child = spawn(process.execPath, [...extra, '--input-type=module', '-e', code], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const info = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (c) => reject(new Error(`control plane exited ${c} before it was ready`)))
  })
  let next = 0
  return {
    url: info.url,
    pid: child.pid,
    token: info.token,
    usage: () =>
      new Promise((resolve) => {
        const id = ++next
        const onMessage = (m) => {
          if (m?.type !== 'usage' || m.id !== id) return
          child.off('message', onMessage)
          resolve({ cpuMs: m.cpuMs, maxRssMB: m.maxRssMB })
        }
        child.on('message', onMessage)
        child.send({ type: 'usage', id })
      }),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', resolve)
        child.kill('SIGTERM')
      }),
  }
}

// A control plane that starts again while the step host still sets up sandboxes of steps the earlier
// one started: the start's tightening of the data folder must not close the way to their volumes.
// Under a root control plane steps run as nobody, and bubblewrap (as nobody) looks at every bind
// source as it sets the sandbox up, which may be well after the start was handed to the host. The
// interleaving is driven step by step: the earlier plane's start opens the way (HostAccess.reach, as
// the local runtime's start does), the next plane starts (ownerOnlyDataDir), then the step user
// looks at its volume, as a real process of that user.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ownerOnlyDataDir } from '../../src/controlplane/control-plane.js'
import { volumeDir } from '../../src/engine/launch.js'
import { HostAccess } from '../../src/runtime/local/identity.js'
import { DEFAULT_STEP_ID } from '../../src/runtime/local/sandbox.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-restart-modes-'))
fs.chmodSync(root, 0o711) // like /var/lib: others may enter the data folder's parent
const step = { uid: DEFAULT_STEP_ID, gid: DEFAULT_STEP_ID }
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

/** Whether the step user, as a process of its own, can see `dir` (what bubblewrap's bind does first). */
function stepUserSees(dir: string): boolean {
  return spawnSync('test', ['-d', dir], { ...step, stdio: 'ignore' }).status === 0
}

const mode = (p: string) => fs.statSync(p).mode & 0o777

describe.skipIf(process.getuid?.() !== 0)('a control plane starting again, under root', () => {
  it('keeps the folders an earlier start opened to the step user enterable by it, and closed to everyone else', () => {
    const dataDir = path.join(root, 'data')
    ownerOnlyDataDir({ dataDir }) // the first control plane
    const volume = volumeDir(dataDir, 'public', 'marks')
    fs.mkdirSync(volume, { recursive: true, mode: 0o700 }) // as the launch makes it
    new HostAccess(step, [dataDir]).reach(volume, 'volume') // its start, handed to the host
    expect(stepUserSees(volume)).toBe(true)

    ownerOnlyDataDir({ dataDir }) // the next control plane, before the host's sandbox looked at the volume
    expect(stepUserSees(volume)).toBe(true)
    for (const dir of [dataDir, path.join(dataDir, 'volumes'), path.join(dataDir, 'volumes', 'public')]) {
      expect(mode(dir) & 0o067, `${dir} is mode ${mode(dir).toString(8)}`).toBe(0)
    }
  })

  it('still closes an older data folder that others may enter or list, and one open to another group', () => {
    const dataDir = path.join(root, 'older')
    fs.mkdirSync(path.join(dataDir, 'volumes'), { recursive: true })
    fs.mkdirSync(path.join(dataDir, 'runs'))
    fs.chmodSync(dataDir, 0o755)
    fs.chmodSync(path.join(dataDir, 'volumes'), 0o750)
    fs.chmodSync(path.join(dataDir, 'runs'), 0o710)
    fs.chownSync(path.join(dataDir, 'runs'), 0, 1) // enter-only, but for a group that is not the steps'
    ownerOnlyDataDir({ dataDir })
    for (const dir of [dataDir, path.join(dataDir, 'volumes'), path.join(dataDir, 'runs')]) expect(mode(dir), dir).toBe(0o700)
  })
})

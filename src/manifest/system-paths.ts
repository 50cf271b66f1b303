// Which folders of a step a manifest may mount over. A volume or a projection's files mounted at
// `/`, `/proc`, `/usr` or `/etc` replaces what every program of the step relies on (and, at `/`,
// the sandbox's whole view): refused at lint, whatever the runtime.
//
// A path is a system path when it is one of SYSTEM_TREES or lies below one, when it is one of
// SYSTEM_FOLDERS itself, or when it contains one of them (`/`, `/var`). Below /etc, /var and
// /home a step may use folders of its own (`/etc/ctl/projection`, `/etc/myapp`,
// `/var/lib/postgresql/data`, `/home/app/data`): they hide nothing of the system.

/** Refused with everything below them: the kernel's, the programs', the libraries', root's and the runtime state's folders. */
export const SYSTEM_TREES: readonly string[] = [
  '/proc', '/sys', '/dev', '/boot', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/usr', '/root', '/run', '/var/run', '/var/lock', '/lost+found',
]

/** Refused themselves (a mount there hides all of it), not their subfolders. */
export const SYSTEM_FOLDERS: readonly string[] = ['/', '/etc', '/var', '/home']

const under = (p: string, base: string) => p === base || p.startsWith(base + '/')

/**
 * Why `dir` (an absolute folder in the step) may not be mounted over, or undefined when it
 * may. `..` is refused outright: a mount path says where it is, not how to get there.
 */
export function systemPathProblem(dir: string): string | undefined {
  const parts = dir.split('/')
  if (parts.includes('..')) return 'must not contain ".."'
  const p = '/' + parts.filter((x) => x !== '' && x !== '.').join('/')
  const tree = SYSTEM_TREES.find((t) => under(p, t))
  if (tree) return tree === p ? 'is a system path' : `lies inside the system path ${tree}`
  if (SYSTEM_FOLDERS.includes(p)) return 'is a system path'
  const hidden = SYSTEM_TREES.find((t) => under(t, p))
  if (hidden) return `is a system path (it contains ${hidden})`
  return undefined
}

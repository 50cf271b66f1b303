// A probe for "never more than N at once" without timing: each step marks itself running in a shared folder.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { onTestFinished } from 'vitest'

/**
 * A step script that marks itself running in a shared folder (steps run as another user: the folders are open to
 * all) and notes when it sees more than `most` marks at once; `overlaps()` reads those notes.
 */
export function overlapProbe(most: number): { script: string; overlaps: () => string[] } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-overlap-'))
  const marks = path.join(base, 'marks')
  fs.mkdirSync(marks)
  for (const d of [base, marks]) fs.chmodSync(d, 0o777)
  onTestFinished(() => fs.rmSync(base, { recursive: true, force: true }))
  const bad = path.join(base, 'bad')
  const script = `touch ${marks}/$$; n=$(ls ${marks} | wc -l); if [ $n -gt ${most} ]; then echo $n >> ${bad}; fi; sleep 0.2; rm ${marks}/$$`
  return { script, overlaps: () => (fs.existsSync(bad) ? fs.readFileSync(bad, 'utf8').trim().split('\n') : []) }
}


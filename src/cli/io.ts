// Where a verb writes. Verbs take an Io instead of calling console directly,
// so tests drive them in-process and read exactly what a user would see.

export interface Io {
  out(text: string): void
  err(text: string): void
  /** True when stdout is a terminal (live redraws, colours). */
  readonly isTty: boolean
}

export const processIo: Io = {
  out: (text) => {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n')
  },
  err: (text) => {
    process.stderr.write(text.endsWith('\n') ? text : text + '\n')
  },
  get isTty() {
    return Boolean(process.stdout.isTTY) && process.env.CI !== 'true'
  },
}

/** Collects output in memory; for tests. */
export class BufferIo implements Io {
  stdout = ''
  stderr = ''
  readonly isTty = false
  out(text: string): void {
    this.stdout += text.endsWith('\n') ? text : text + '\n'
  }
  err(text: string): void {
    this.stderr += text.endsWith('\n') ? text : text + '\n'
  }
}

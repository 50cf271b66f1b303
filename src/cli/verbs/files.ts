// `-f` handling shared by lint, apply, diff and delete: the same files, the
// same interpolation, the same located errors whatever the verb.
import { CtlError } from '../../errors.js'

export interface FileOptions {
  files: string[]
  recursive: boolean
  interpolate: boolean
  env: Record<string, string | undefined>
  stdin: () => Promise<string>
}

export function completeFileOptions(flags: { file?: string[]; recursive?: boolean; 'disable-interpolation'?: boolean }, env: NodeJS.ProcessEnv, stdin: () => Promise<string> = readStdin): FileOptions {
  return {
    files: flags.file ?? [],
    recursive: flags.recursive ?? false,
    interpolate: !(flags['disable-interpolation'] ?? false),
    env: { ...env },
    stdin,
  }
}

export function validateFileOptions(options: FileOptions): void {
  if (options.files.length === 0) throw new CtlError('E_USAGE', 'no manifest given: use -f FILE, -f DIR or -f -')
  if (options.files.filter((f) => f === '-').length > 1) throw new CtlError('E_USAGE', 'standard input (-f -) can be read only once')
}

export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CtlError('E_USAGE', '-f - reads a manifest from standard input, but standard input is a terminal')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

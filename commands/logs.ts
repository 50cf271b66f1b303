import type { Input, ParserOutput } from '@oclif/core/interfaces'
import { Args, Flags } from '../src/cli/oclif.js'
import { logsTarget, requireName, type Target, type TargetArgs } from '../src/cli/kubectl.js'
import ResourceLog from './resource/log.js'

type Parsed = { [name: string]: unknown }

export default class Logs extends ResourceLog {
  static override summary = 'Print a workflow run\'s logs: kubectl\'s logs, with dataos-ctl\'s flags'
  static override description = `The kubectl form of "resource log": the workflow is given as workflow/NAME (or
wf/NAME, or a bare NAME) or as -n NAME; -c STEP picks one step, as kubectl's
-c picks a container. Every flag of "resource log" works here too.`
  static override examples = [
    '<%= config.bin %> logs workflow/customer-batch-pipeline',
    '<%= config.bin %> logs workflow/customer-batch-pipeline -c extract',
    '<%= config.bin %> logs wf/customer-batch-pipeline -c publish -f',
    '<%= config.bin %> logs customer-batch-pipeline --tail 20',
  ]
  static override aliases: string[] = []
  static override args = {
    target: Args.string({ description: 'workflow/NAME, or NAME' }),
    name: Args.string({ description: 'Workflow name, after TYPE' }),
  }
  static override flags = {
    ...ResourceLog.flags,
    // Not required and no default: the workflow may come as an argument instead.
    type: Flags.string({ char: 't', summary: 'Resource type (default: workflow)' }),
    name: Flags.string({ char: 'n', summary: 'Workflow name' }),
  }

  // resource log's run() parses with its own class: parse with this one and hand the
  // target on as the -t/-n flags run() reads.
  protected override async parse<F extends Parsed, B extends Parsed, A extends Parsed>(_options?: Input<F, B, A>, argv?: string[]): Promise<ParserOutput<F, B, A>> {
    const out = await super.parse(Logs as unknown as Input<F, B, A>, argv)
    const target = logsTarget(out.args as TargetArgs, out.flags as Target)
    requireName(target, 'say which workflow: logs workflow/NAME, or -n NAME')
    Object.assign(out.flags, target)
    return out
  }
}

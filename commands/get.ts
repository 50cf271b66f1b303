import type { Input, ParserOutput } from '@oclif/core/interfaces'
import { Args } from '../src/cli/oclif.js'
import { typeNamesHelp } from '../src/manifest/type-names.js'
import { kubectlTarget, type Target, type TargetArgs } from '../src/cli/kubectl.js'
import ResourceGet from './resource/get.js'

type Parsed = { [name: string]: unknown }

export default class Get extends ResourceGet {
  static override summary = 'List resources, or show one: kubectl\'s get, with dataos-ctl\'s flags'
  static override description = `The kubectl form of "resource get": TYPE and NAME may be given as arguments
(get workflow NAME, get wf/NAME) or as -t TYPE -n NAME. Every flag of
"resource get" works here too. A type may be written as its name, its plural
or its short name:

${typeNamesHelp()}`
  static override examples = [
    '<%= config.bin %> get workflows',
    '<%= config.bin %> get wf customer-batch-pipeline',
    '<%= config.bin %> get workflow/customer-batch-pipeline -d',
    '<%= config.bin %> get vol -a',
    '<%= config.bin %> get -t workflow -n customer-batch-pipeline --revisions',
  ]
  static override aliases: string[] = []
  static override args = {
    target: Args.string({ description: 'TYPE, or TYPE/NAME (workflow, wf, workflows, vol, secrets, ...)' }),
    name: Args.string({ description: 'Resource name' }),
  }

  // resource get's run() parses with its own class: parse with this one (its flags,
  // plus TARGET and NAME) and hand the target on as the -t/-n flags run() reads.
  protected override async parse<F extends Parsed, B extends Parsed, A extends Parsed>(_options?: Input<F, B, A>, argv?: string[]): Promise<ParserOutput<F, B, A>> {
    const out = await super.parse(Get as unknown as Input<F, B, A>, argv)
    Object.assign(out.flags, kubectlTarget(out.args as TargetArgs, out.flags as Target))
    return out
  }
}

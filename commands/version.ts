import { Command } from '../src/cli/oclif.js'

export default class Version extends Command {
  static override summary = 'Print the version of ctl'
  static override examples = ['<%= config.bin %> version']
  async run(): Promise<void> {
    this.log(`ctl ${this.config.version} (node ${process.version}, ${process.platform}-${process.arch})`)
  }
}

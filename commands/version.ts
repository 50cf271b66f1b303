import { Command } from '../src/cli/oclif.js'

export default class Version extends Command {
  static override summary = 'Print the version of ctl'
  static override description = `Prints ctl's version with the Node.js version and platform it runs on, as "ctl
VERSION (node vX, PLATFORM-ARCH)". It needs no control plane.`
  static override examples = ['<%= config.bin %> version']
  async run(): Promise<void> {
    this.log(`ctl ${this.config.version} (node ${process.version}, ${process.platform}-${process.arch})`)
  }
}

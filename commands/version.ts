import { BaseCommand } from '../src/cli/base.js'

export default class Version extends BaseCommand {
  static override summary = 'Print the version of ctl'
  static override description = `Prints ctl's version with the Node.js version and platform it runs on, as "ctl
VERSION (node vX, PLATFORM-ARCH)". It needs no control plane.`
  static override examples = ['<%= config.bin %> version']
  async run(): Promise<void> {
    // Parsed although it takes nothing: an unknown flag is a usage error here as everywhere.
    await this.parse(Version)
    this.log(`ctl ${this.config.version} (node ${process.version}, ${process.platform}-${process.arch})`)
  }
}

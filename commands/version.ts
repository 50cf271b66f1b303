import { BaseCommand, outputFlag } from '../src/cli/base.js'
import { parseOutputFormat, printReport } from '../src/cli/output.js'

export default class Version extends BaseCommand {
  static override summary = 'Print the version of ctl'
  static override description = `Prints ctl's version with the Node.js version and platform it runs on, as "ctl
VERSION (node vX, PLATFORM-ARCH)". It needs no control plane.`
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version -o json']
  static override flags = { ...outputFlag }
  async run(): Promise<void> {
    // Parsed even without -o: an unknown flag is a usage error here as everywhere.
    const { flags } = await this.parse(Version)
    const report = { version: this.config.version, node: process.version, platform: process.platform, arch: process.arch }
    printReport(this.io, parseOutputFormat(flags.output), report, () =>
      this.io.out(`ctl ${report.version} (node ${report.node}, ${report.platform}-${report.arch})`))
  }
}

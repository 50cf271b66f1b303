// Where the metrics token file comes from (--metrics-token-file, CTL_METRICS_TOKEN_FILE, metricsTokenFile in
// the server config, relative to the file there) and what a token file must hold.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SERVER_CONFIG_FILE, resolveServerSettings } from '../../src/controlplane/config-file.js'
import { readMetricsToken } from '../../src/controlplane/control-plane.js'

const dir = mkdtempSync(join(tmpdir(), 'ctl-metrics-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the metrics token file', () => {
  it('comes from the flag, the variable or the config file (relative to it), and the child gets it absolute', async () => {
    const dataDir = mkdtempSync(join(dir, 'data-'))
    writeFileSync(join(dataDir, SERVER_CONFIG_FILE), 'metricsTokenFile: tokens/metrics\n')
    const fromFile = await resolveServerSettings({ flags: {}, env: {}, dataDir })
    expect(fromFile.options.metricsTokenFile).toBe(join(dataDir, 'tokens/metrics'))
    expect(fromFile.source.settings.metricsTokenFile).toBe('file')
    expect(fromFile.childEnv.CTL_METRICS_TOKEN_FILE).toBe(join(dataDir, 'tokens/metrics'))
    const fromEnv = await resolveServerSettings({ flags: {}, env: { CTL_METRICS_TOKEN_FILE: '/etc/ctl/metrics' }, dataDir })
    expect(fromEnv.options.metricsTokenFile).toBe('/etc/ctl/metrics')
    expect(fromEnv.source.settings.metricsTokenFile).toBe('env')
    const fromFlag = await resolveServerSettings({ flags: { 'metrics-token-file': '/run/m' }, env: { CTL_METRICS_TOKEN_FILE: '/etc/ctl/metrics' }, dataDir })
    expect(fromFlag.options.metricsTokenFile).toBe('/run/m')
  })

  it('holds one word of 16 to 4096 characters; a bad one is refused naming the file, never printing it', () => {
    const good = join(dir, 'good')
    writeFileSync(good, '  abcdefghijklmnop0123\n')
    expect(readMetricsToken(good)).toBe('abcdefghijklmnop0123')
    for (const [name, text] of [['short', 'abc\n'], ['spaced', 'abcdefgh ijklmnopqrst\n'], ['empty', '']]) {
      const file = join(dir, name)
      writeFileSync(file, text)
      expect(() => readMetricsToken(file)).toThrow(new RegExp(`metrics token file ${file}: the token must be one word`))
      try {
        readMetricsToken(file)
      } catch (err) {
        if (text.trim()) expect((err as Error).message).not.toContain(text.trim())
      }
    }
    expect(() => readMetricsToken(join(dir, 'missing'))).toThrow(/metrics token file .*missing: ENOENT/)
  })
})

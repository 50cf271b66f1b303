// Browser-test support: Debian's Chromium driven by playwright-core, the console bundle built once,
// and signing in through the console's own form.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CHROMIUM = process.env.CTL_CHROMIUM ?? '/usr/bin/chromium'

/** dist/ui as `npm run build` leaves it; built here when a test runs without a full build. */
export function ensureBundle(): void {
  if (existsSync(join(root, 'dist', 'ui', 'index.html'))) return
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-ui.mjs')], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`scripts/build-ui.mjs failed: ${r.stderr}`)
}

export function launch(): Promise<Browser> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  return chromium.launch({ executablePath: CHROMIUM, args: root ? ['--no-sandbox'] : [] })
}

/** Signs in with an API key through the sign-in form; resolves once the header names the user. */
export async function signIn(page: Page, baseUrl: string, apiKey: string, path = '/ui/'): Promise<void> {
  await page.goto(`${baseUrl}${path}`)
  await page.locator('#apikey').fill(apiKey)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#user').waitFor()
}

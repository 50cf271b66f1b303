// The store conformance suite on SQLite: a file in a fresh temp folder per test.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'
import { describeStoreContract } from './conformance/index.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-contract-'))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
let n = 0

describeStoreContract('sqlite', async () => `sqlite:${path.join(root, `db-${++n}.db`)}`, { wakesOtherInstances: false })

// The store conformance suite on a real PostgreSQL (test/support/postgres.ts): a fresh database per test.
import { freshDatabase } from '../support/postgres.js'
import { describeStoreContract } from './conformance/index.js'

describeStoreContract('postgres', freshDatabase, { wakesOtherInstances: true })

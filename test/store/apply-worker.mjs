// Child process for the racing-writers test: opens its own store on the shared
// file and applies distinct content to one resource. Plain JS so it runs under
// bare node; it imports the store transpiled by concurrency.test.ts.
// argv: storeModuleUrl dbFile workerIndex count mode(plain|cas|same) startAtMs
const [storeUrl, file, index, count, mode, startAt] = process.argv.slice(2)
const { openSqliteStore } = await import(storeUrl)
const store = openSqliteStore(file)
const key = { workspace: 'public', type: 'workflow', name: 'race' }
const report = { outcomes: [], conflicts: 0, errors: [] }

// Start together so the writes really overlap.
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1))

for (let k = 0; k < Number(count); k++) {
  const manifest = mode === 'same' ? { name: 'race', same: true } : { name: 'race', worker: Number(index), k }
  for (;;) {
    try {
      let expectedRevision
      if (mode === 'cas') expectedRevision = (await store.getResource(key))?.revision ?? 0
      const res = await store.applyResource({ ...key, version: 'v1', manifest, owner: `w${index}`, expectedRevision })
      report.outcomes.push({ outcome: res.outcome, revision: res.resource.revision })
      break
    } catch (err) {
      if (err && err.code === 'E_CONFLICT' && mode === 'cas') {
        report.conflicts++
        continue
      }
      report.errors.push(`${err?.name}: ${err?.code}: ${err?.message}`)
      break
    }
  }
}
await store.close()
process.stdout.write(JSON.stringify(report))

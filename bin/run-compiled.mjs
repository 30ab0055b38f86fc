#!/usr/bin/env node
// `node bin/run-compiled.mjs ENTRY.ts [args…]`: runs a TypeScript program (a benchmark, say) the
// way `sandstore` runs, from its compiled bundle, so it measures compiled code, not tsx's loader.
import { importCompiled } from "./compiled.mjs"

const [entry, ...args] = process.argv.slice(2)
if (entry === undefined) {
  process.stderr.write("usage: node bin/run-compiled.mjs ENTRY.ts [args…]\n")
  process.exit(2)
}
// The program sees its own arguments where it would under tsx: argv[2] onwards.
process.argv.splice(1, 2, entry)
await importCompiled(entry)

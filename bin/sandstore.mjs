#!/usr/bin/env node
// The `sandstore` command. It runs in this same process, so a signal sent to this pid (kill -9
// included) reaches the node itself, from the compiled CLI (compiled.mjs: built once per version
// of the sources, then loaded without compiling anything).
import { fileURLToPath } from "node:url"
import { importCompiled } from "./compiled.mjs"

await importCompiled(fileURLToPath(new URL("../src/cli/main.ts", import.meta.url)))

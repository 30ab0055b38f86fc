#!/usr/bin/env node
// Runs the TypeScript CLI in this same process through tsx's loader, so no build step is
// needed and a signal sent to this pid (kill -9 included) reaches the node itself.
import { register } from "tsx/esm/api"

register()
await import("../src/cli/main.ts")

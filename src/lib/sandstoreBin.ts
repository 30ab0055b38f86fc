/**
 * The `sandstore` launcher (bin/sandstore.mjs), for starting node processes. The launcher records
 * its own path, because code running from the compiled bundle cannot find it relative to itself;
 * under tsx (tests, `npm run sandstore`) the path is found from this source file.
 */
import { fileURLToPath } from "node:url"

export const sandstoreBin: string =
  process.env.SANDSTORE_BIN ?? fileURLToPath(new URL("../../bin/sandstore.mjs", import.meta.url))

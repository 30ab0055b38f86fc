/** `--seeds HOST:PORT[,...]`, shared by every command that talks to a cluster. */
import { Options } from "@effect/cli"
import { Config } from "effect"

export const seedsOption = (description = "comma-separated host:port of nodes to connect to") =>
  Options.text("seeds").pipe(
    Options.withDescription(`${description} (or SANDSTORE_SEEDS; default 127.0.0.1:9001)`),
    Options.withFallbackConfig(Config.string("SANDSTORE_SEEDS")),
    Options.withDefault("127.0.0.1:9001")
  )

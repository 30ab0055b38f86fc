/**
 * Server: the running node program. Its layer serves the client API and depends only on the
 * two orchestrators (and a Communicator to listen with), so any topology can plug in under it.
 */
import { Context } from "effect"

export interface ServerShape {
  /** The address actually bound (host:port). */
  readonly address: string
}

export class Server extends Context.Tag("sandstore/Server")<Server, ServerShape>() {}

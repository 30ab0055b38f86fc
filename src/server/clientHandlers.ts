/**
 * The client API's handlers: each request goes to one of the two orchestrators, nothing else.
 * This is the seam every topology plugs into. Around every handler: the request's deadline
 * (what the client said it waits), and for a mutation its session request tag with a digest of
 * what it asks, so a resend is recognised and a reused id is refused.
 */
import { Effect } from "effect"
import type { RequestTag } from "../domain/commands.ts"
import { withinDeadline } from "../lib/deadline.ts"
import { ClientApi, type SessionRequest } from "../protocol/ClientApi.ts"
import { ControlPlaneOrchestrator } from "../services/ControlPlaneOrchestrator.ts"
import { DataPlaneOrchestrator } from "../services/DataPlaneOrchestrator.ts"
import { requestDigest } from "./requestDigest.ts"

/** How long a node works on a request whose client did not say how long it waits. */
export const DEFAULT_REQUEST_TIMEOUT_MILLIS = 60_000

const tagOf = (rpc: string, request: SessionRequest | null, fields: object): RequestTag | null =>
  request === null ? null : { ...request, digest: requestDigest(rpc, fields) }

export const ClientHandlers = ClientApi.toLayer(
  Effect.gen(function*() {
    const control = yield* ControlPlaneOrchestrator
    const data = yield* DataPlaneOrchestrator
    const timed = (rpc: string, timeoutMillis: number | undefined) =>
      withinDeadline(timeoutMillis ?? DEFAULT_REQUEST_TIMEOUT_MILLIS, rpc)
    return {
      GetAttr: ({ inode, timeoutMillis }) => timed("GetAttr", timeoutMillis)(control.getattr(inode)),
      Lookup: ({ name, parent, timeoutMillis }) => timed("Lookup", timeoutMillis)(control.lookup(parent, name)),
      LookupPath: ({ path, timeoutMillis }) => timed("LookupPath", timeoutMillis)(control.lookupPath(path)),
      Access: ({ gid, inode, mask, uid, timeoutMillis }) => timed("Access", timeoutMillis)(control.access(inode, uid, gid, mask)),
      Readdir: ({ cookie, inode, max, timeoutMillis }) => timed("Readdir", timeoutMillis)(control.readdir(inode, cookie, max)),
      ReaddirPlus: ({ cookie, inode, max, timeoutMillis }) =>
        timed("ReaddirPlus", timeoutMillis)(control.readdirplus(inode, cookie, max)),
      FsStat: ({ timeoutMillis }) => timed("FsStat", timeoutMillis)(control.fsstat),
      FsInfo: () => control.fsinfo,
      Topology: () => control.topology,
      OpenSession: ({ create, session, timeoutMillis }) =>
        timed("OpenSession", timeoutMillis)(control.openSession(session, create)),
      CloseSession: ({ session, timeoutMillis }) => timed("CloseSession", timeoutMillis)(control.closeSession(session)),
      Create: ({ request, timeoutMillis, ...fields }) =>
        timed("Create", timeoutMillis)(control.create(fields, tagOf("Create", request, fields))),
      Mkdir: ({ request, timeoutMillis, ...fields }) =>
        timed("Mkdir", timeoutMillis)(control.mkdir(fields, tagOf("Mkdir", request, fields))),
      Unlink: ({ request, timeoutMillis, ...fields }) =>
        timed("Unlink", timeoutMillis)(control.unlink(fields.parent, fields.name, tagOf("Unlink", request, fields))),
      Rmdir: ({ request, timeoutMillis, ...fields }) =>
        timed("Rmdir", timeoutMillis)(control.rmdir(fields.parent, fields.name, tagOf("Rmdir", request, fields))),
      Rename: ({ request, timeoutMillis, ...fields }) =>
        timed("Rename", timeoutMillis)(
          control.rename(fields.srcParent, fields.srcName, fields.dstParent, fields.dstName, tagOf("Rename", request, fields))
        ),
      SetAttr: ({ request, timeoutMillis, ...fields }) =>
        timed("SetAttr", timeoutMillis)(control.setattr(fields.inode, fields.changes, tagOf("SetAttr", request, fields))),
      Read: ({ inode, length, offset, timeoutMillis }) => timed("Read", timeoutMillis)(data.read(inode, offset, length)),
      Write: ({ request, timeoutMillis, ...fields }) =>
        timed("Write", timeoutMillis)(
          data.write(fields.inode, fields.append ? "end" : fields.offset, fields.data, tagOf("Write", request, fields))
        )
    }
  })
)

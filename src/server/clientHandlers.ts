/**
 * The client API's handlers: each request goes to one of the two orchestrators, nothing else.
 * This is the seam every topology plugs into. Around every handler: admission (past the node's
 * limits of work in flight the request is refused with Busy), the request's deadline (what the
 * client said it waits), and for a mutation its session request tag with a digest of what it
 * asks, so a resend is recognised and a reused id is refused.
 */
import { Effect } from "effect"
import type { RequestTag } from "../domain/commands.ts"
import { asRequestWithin, byDeadline } from "../lib/deadline.ts"
import { ClientApi, type SessionRequest } from "../protocol/ClientApi.ts"
import { Admission } from "../services/Admission.ts"
import { ControlPlaneOrchestrator } from "../services/ControlPlaneOrchestrator.ts"
import { DataPlaneOrchestrator } from "../services/DataPlaneOrchestrator.ts"
import { bytesSummary, requestDigest } from "./requestDigest.ts"

/** How long a node works on a request whose client did not say how long it waits. */
export const DEFAULT_REQUEST_TIMEOUT_MILLIS = 60_000

const tagOf = (rpc: string, request: SessionRequest | null, fields: object): RequestTag | null =>
  request === null ? null : { ...request, digest: requestDigest(rpc, fields) }

export const ClientHandlers = ClientApi.toLayer(
  Effect.gen(function*() {
    const control = yield* ControlPlaneOrchestrator
    const data = yield* DataPlaneOrchestrator
    const admission = yield* Admission
    /**
     * Admitted (counting `bytes` of payload on the caller's connection), then run under its
     * deadline. Metadata work answers by the deadline itself (the replicator's contract); the
     * data plane, whose chunk transfers and re-planning do not read it, is held to it by a timer.
     * Each handler runs in a fiber of its own (every Communicator's server forks one per request).
     */
    const served = (timeoutMillis: number | undefined, connection: number, bytes = 0) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      admission.admit(connection, bytes, asRequestWithin(timeoutMillis ?? DEFAULT_REQUEST_TIMEOUT_MILLIS)(effect))
    return {
      GetAttr: ({ inode, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.getattr(inode)),
      Lookup: ({ name, parent, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.lookup(parent, name)),
      LookupPath: ({ path, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.lookupPath(path)),
      Access: ({ gid, inode, mask, uid, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.access(inode, uid, gid, mask)),
      Readdir: ({ cookie, inode, max, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.readdir(inode, cookie, max)),
      ReaddirPlus: ({ cookie, inode, max, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.readdirplus(inode, cookie, max)),
      FsStat: ({ timeoutMillis }, { clientId }) => served(timeoutMillis, clientId)(control.fsstat),
      // Answered from memory: never refused, so a client can always find out about a node.
      FsInfo: () => control.fsinfo,
      Topology: () => control.topology,
      OpenSession: ({ create, session, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.openSession(session, create)),
      CloseSession: ({ session, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.closeSession(session)),
      Create: ({ request, timeoutMillis, ...fields }, { clientId }) =>
        served(timeoutMillis, clientId)(control.create(fields, tagOf("Create", request, fields))),
      Mkdir: ({ request, timeoutMillis, ...fields }, { clientId }) =>
        served(timeoutMillis, clientId)(control.mkdir(fields, tagOf("Mkdir", request, fields))),
      Unlink: ({ request, timeoutMillis, ...fields }, { clientId }) =>
        served(timeoutMillis, clientId)(control.unlink(fields.parent, fields.name, tagOf("Unlink", request, fields))),
      Rmdir: ({ request, timeoutMillis, ...fields }, { clientId }) =>
        served(timeoutMillis, clientId)(control.rmdir(fields.parent, fields.name, tagOf("Rmdir", request, fields))),
      Rename: ({ request, timeoutMillis, ...fields }, { clientId }) =>
        served(timeoutMillis, clientId)(
          control.rename(fields.srcParent, fields.srcName, fields.dstParent, fields.dstName, tagOf("Rename", request, fields))
        ),
      SetAttr: ({ request, timeoutMillis, ...fields }, { clientId }) =>
        served(timeoutMillis, clientId)(
          control.setattr(fields.inode, fields.changes, tagOf("SetAttr", request, fields))
        ),
      Read: ({ inode, length, offset, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId, length)(byDeadline("Read")(data.read(inode, offset, length))),
      PlanRead: ({ inode, length, offset, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId)(control.prepareRead(inode, offset, length)),
      ReadVersion: ({ length, offset, versionId, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId, length)(byDeadline("ReadVersion")(data.readVersion(versionId, offset, length))),
      ReadPath: ({ length, offset, path, timeoutMillis }, { clientId }) =>
        served(timeoutMillis, clientId, length)(byDeadline("ReadPath")(data.readPath(path, offset, length))),
      Write: ({ request, timeoutMillis, ...fields }, { clientId }) =>
        served(timeoutMillis, clientId, fields.data.length)(byDeadline("Write")(
          data.write(
            fields.inode,
            fields.append ? "end" : fields.offset,
            fields.data,
            tagOf("Write", request, { ...fields, data: bytesSummary(fields.data, fields.checksum) }),
            fields.checksum
          )
        ))
    }
  })
)

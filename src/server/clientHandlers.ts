/**
 * The client API's handlers: each request goes to one of the two orchestrators, nothing else.
 * This is the seam every topology plugs into.
 */
import { Effect } from "effect"
import { ClientApi } from "../protocol/ClientApi.ts"
import { ControlPlaneOrchestrator } from "../services/ControlPlaneOrchestrator.ts"
import { DataPlaneOrchestrator } from "../services/DataPlaneOrchestrator.ts"

export const ClientHandlers = ClientApi.toLayer(
  Effect.gen(function*() {
    const control = yield* ControlPlaneOrchestrator
    const data = yield* DataPlaneOrchestrator
    return {
      GetAttr: ({ inode }) => control.getattr(inode),
      Lookup: ({ parent, name }) => control.lookup(parent, name),
      LookupPath: ({ path }) => control.lookupPath(path),
      Access: ({ inode, uid, gid, mask }) => control.access(inode, uid, gid, mask),
      Readdir: ({ inode, cookie, max }) => control.readdir(inode, cookie, max),
      ReaddirPlus: ({ inode, cookie, max }) => control.readdirplus(inode, cookie, max),
      FsStat: () => control.fsstat,
      FsInfo: () => control.fsinfo,
      Topology: () => control.topology,
      Create: ({ requestId, ...request }) => control.create(request, requestId),
      Mkdir: ({ requestId, ...request }) => control.mkdir(request, requestId),
      Unlink: ({ parent, name, requestId }) => control.unlink(parent, name, requestId),
      Rmdir: ({ parent, name, requestId }) => control.rmdir(parent, name, requestId),
      Rename: ({ srcParent, srcName, dstParent, dstName, requestId }) =>
        control.rename(srcParent, srcName, dstParent, dstName, requestId),
      SetAttr: ({ inode, changes, requestId }) => control.setattr(inode, changes, requestId),
      Read: ({ inode, offset, length }) => data.read(inode, offset, length),
      Write: ({ append, data: bytes, inode, offset, requestId }) => data.write(inode, append ? "end" : offset, bytes, requestId)
    }
  })
)

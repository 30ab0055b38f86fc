/**
 * One write syscall per connection per burst of work instead of one per message: the first
 * write corks the socket and the end of the burst uncorks it, so every frame encoded meanwhile
 * leaves in one writev. A burst is what one event (a socket read, a timer, a finished fsync)
 * sets running: the fibers it wakes run as promise jobs, and `process.nextTick` from inside
 * them runs once those jobs are all done, before the event loop takes the next event (a
 * first write made outside a promise job, straight from an I/O callback, uncorks before
 * the fibers that event wakes have run: less coalescing, nothing worse). A Raft
 * leader answering a batch of requests and replicating to its followers produces many small
 * frames in one burst; each write to a loopback socket costs a syscall and a wake-up of the
 * reader, so coalescing them saves both ends CPU.
 *
 * The end of the burst, not of the event-loop turn (setImmediate): waiting for every other
 * I/O callback of the turn held a follower's answer to its leader back ~0.3 ms at one client,
 * a tenth of a create's latency, for coalescing that whole turns rarely add.
 */
import type * as Net from "node:net"

/** Coalesce `socket`'s writes; the returned function sends what is corked at once (for urgent messages). */
export const coalesceWrites = (socket: Net.Socket): () => void => {
  let corked = false
  const uncork = () => {
    if (!corked) return
    corked = false
    socket.uncork()
  }
  const write = socket.write
  socket.write = function(this: Net.Socket, ...args: Parameters<Net.Socket["write"]>) {
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    return write.apply(this, args as any)
  } as Net.Socket["write"]
  return uncork
}

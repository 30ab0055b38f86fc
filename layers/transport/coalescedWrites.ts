/**
 * One write syscall per connection per event-loop turn instead of one per message: the first
 * write of a turn corks the socket and the check phase (setImmediate, after every I/O callback
 * of the turn has run) uncorks it, so everything encoded meanwhile leaves in one writev. A
 * Raft leader answering a batch of requests and replicating to its followers produces many
 * small frames in one turn; each write to a loopback socket costs a syscall and a wake-up of
 * the reader, so coalescing them saves both ends CPU. Latency grows by at most the rest of
 * the turn.
 */
import type * as Net from "node:net"

export const coalesceWrites = (socket: Net.Socket): void => {
  let corked = false
  const uncork = () => {
    corked = false
    socket.uncork()
  }
  const write = socket.write
  socket.write = function(this: Net.Socket, ...args: Parameters<Net.Socket["write"]>) {
    if (!corked) {
      corked = true
      socket.cork()
      setImmediate(uncork)
    }
    return write.apply(this, args as any)
  } as Net.Socket["write"]
}

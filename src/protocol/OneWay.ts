/**
 * An annotation for rpcs that are only ever called with `discard: true` (fire and forget, as
 * RaftApi's messages: an answer is a message of its own). A Communicator may then send no
 * reply for them: the caller would drop it unread, and on TCP each reply costs the receiver a
 * write and the sender a read and a decode, as much as the message itself.
 */
import { Context } from "effect"

export class OneWay extends Context.Reference<OneWay>()("sandstore/OneWay", { defaultValue: () => false }) {}

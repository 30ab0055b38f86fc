/**
 * The digest a node records with a client request's outcome: 32 bits over what the client
 * asked (the rpc and its fields, without the session bookkeeping or how long it waits). A
 * request id that comes back with a different digest named another request, and is refused.
 */
import { Packr } from "msgpackr"
import { crc32c } from "../lib/crc32c.ts"

// Fields in schema order (decoding builds them so), no shared structures: the same request gives the same bytes.
const packr = new Packr({ useRecords: false })

export const requestDigest = (rpc: string, fields: object): number => crc32c(packr.pack([rpc, fields])) | 0

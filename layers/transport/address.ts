/** Addresses as the Communicator takes them: "host:port", or "[ipv6]:port". */

export interface Endpoint {
  readonly host: string
  readonly port: number
}

/** "host:port" or "[ipv6]:port". */
export const parseAddress = (address: string): Endpoint | undefined => {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address)
  if (match === null) return undefined
  const port = Number(match[2])
  return port <= 65535 ? { host: match[1], port } : undefined
}

export const formatAddress = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`


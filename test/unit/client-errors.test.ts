import { describe, expect, it } from "@effect/vitest"
import { Cause } from "effect"
import { BadFileDescriptor, withPath } from "../../src/client/errors.ts"
import { fromCause, toNodeError } from "../../src/client/nodeErrors.ts"
import { describeClientError } from "../../src/cli/exitCodes.ts"
import { Corruption, NotEmpty, NotFound, NotLeader } from "../../src/domain/errors.ts"

describe("client errors", () => {
  it("names the caller's path, keeping the error's class and fields", () => {
    const named = withPath("/a/b")(new NotFound({ message: "no such entry" }))
    expect(named).toBeInstanceOf(NotFound)
    expect(named.path).toBe("/a/b")
    expect(named.code).toBe("ENOENT")
    expect(withPath("/x/y")(new NotFound({ message: "m", path: "y" })).path).toBe("/x/y")
    const corruption = withPath("/f")(new Corruption({ message: "bad crc", file: "wal-1", offset: 12 }))
    expect([corruption.path, corruption.file, corruption.offset]).toEqual(["/f", "wal-1", 12])
    const notLeader = new NotLeader({ message: "follower", leaderId: null, address: null })
    expect(withPath("/x")(notLeader)).toBe(notLeader)
    expect(new BadFileDescriptor({ message: "closed" }).code).toBe("EBADF")
  })

  it("turns a typed error into a node-style fs error", () => {
    const error = toNodeError(new NotEmpty({ message: "directory not empty" }), { syscall: "rmdir", path: "/d" })
    expect(error).toBeInstanceOf(Error)
    expect(error.code).toBe("ENOTEMPTY")
    expect(error.errno).toBeLessThan(0)
    expect(error.syscall).toBe("rmdir")
    expect(error.path).toBe("/d")
    expect(error.message).toBe("ENOTEMPTY: directory not empty, rmdir '/d'")
    expect(error.cause).toBeInstanceOf(NotEmpty)
  })

  it("passes defects through untranslated", () => {
    const defect = new Error("boom")
    expect(fromCause(Cause.die(defect), { syscall: "stat" })).toBe(defect)
  })

  it("prints CLI errors as sandstore: CODE: path: message", () => {
    expect(describeClientError(new NotFound({ message: "no such entry", path: "/x" }))).toBe(
      "sandstore: ENOENT: /x: no such entry"
    )
    expect(describeClientError(new BadFileDescriptor({ message: "file handle is closed" }))).toBe(
      "sandstore: EBADF: file handle is closed"
    )
  })
})

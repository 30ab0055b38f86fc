/** The Sandstore client SDK: the Effect API (SandstoreClient) and its building blocks. */
export * from "./errors.ts"
export type { FileHandle, ReadIntoOptions, ReadResult } from "./FileHandle.ts"
export * from "./Invoker.ts"
export * from "./NodeRouter.ts"
export * from "./OpenFlags.ts"
export * from "./paths.ts"
export {
  type ClientSettings, type ClientOptions, type MkdirOptions, READDIR_PAGE, type ReaddirOptions, SandstoreClient,
  type SandstoreClientShape, type WriteFileOptions
} from "./SandstoreClient.ts"
export * from "./Stats.ts"
export * as SeedRouter from "./SeedRouter.ts"

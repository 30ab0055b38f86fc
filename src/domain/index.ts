export * from "./errors.ts"
export * from "./fs.ts"
export * from "./cluster.ts"
export * from "./commands.ts"

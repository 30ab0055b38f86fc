/**
 * How fast the whole-cluster simulation runs: simulated seconds per wall-clock second.
 *
 * Each seed runs twice, with a short and a long workload (3 nodes, 4 clients; the nemesis off
 * unless --faults, as faults make the two runs differ in more than their length).
 * Both runs share everything but the loaded phase — booting, healing, the collector's idle
 * wait, the checkers — so the difference between them is the loaded phase alone:
 * (long − short simulated time) / (long − short wall time) is the speed under load. The
 * whole-run figure (simulated / wall time of the long run) includes the idle phases, which
 * simulated time skips through.
 *
 * It also prints the process's CPU time per client operation under load (the same difference,
 * from process.cpuUsage): on a shared machine wall time swings by tens of percent between
 * identical runs, CPU time far less, so small changes show there first.
 *
 * With --count-ops it also counts the Effect operations the runs execute (a supervisor sees
 * every one), a figure that does not depend on the machine at all: the same seeds on the same
 * code always execute the same operations, so a change that removes work shows there however
 * noisy the machine. Counting slows the runs, so the speed figures are then not comparable.
 *
 * Run: npm run bench:sim [-- --seeds 5 --short 1000 --long 6000 --faults --count-ops]
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, RuntimeFlags, RuntimeFlagsPatch, Supervisor } from "effect"
import { passed } from "../src/sim/report.ts"
import { runSimulation } from "../src/sim/run.ts"

const argument = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback
}

const seeds = Number(argument("seeds", "5"))
const shortMillis = Number(argument("short", "1000"))
const longMillis = Number(argument("long", "6000"))
const faults = process.argv.includes("--faults")
const countOps = process.argv.includes("--count-ops")

/** Counts every Effect operation of the fibers it supervises. */
class OperationCounter extends Supervisor.AbstractSupervisor<number> {
  count = 0
  get value() {
    return Effect.sync(() => this.count)
  }
  override onEffect() {
    this.count++
  }
}
const counter = new OperationCounter()

/** `effect` with every operation of it and of the fibers it starts counted. */
const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  countOps
    ? effect.pipe(Effect.supervised(counter), Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)))
    : effect

/**
 * One run, with the wall-clock and CPU time it took (performance.now and process.cpuUsage:
 * this is the benchmark's own clock, not the simulation's).
 */
const timed = (seed: number, durationMillis: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    const cpuBefore = process.cpuUsage()
    const result = yield* counted(runSimulation({ seed, durationMillis, faults }))
    const cpu = process.cpuUsage(cpuBefore)
    return { result, wallMillis: performance.now() - start, cpuMillis: (cpu.user + cpu.system) / 1000 }
  })

const program = Effect.gen(function*() {
  yield* Console.log(`${seeds} seeds, workloads of ${shortMillis} and ${longMillis} ms, faults ${faults ? "on" : "off"}\n`)
  yield* Console.log(`seed  ops(long)  loaded: sim s  wall s  sim/wall   whole run: sim s  wall s  sim/wall  verdict`)
  let loadedSim = 0
  let loadedWall = 0
  let wholeSim = 0
  let wholeWall = 0
  let operations = 0
  let loadedCpu = 0
  let wholeOperations = 0
  for (let seed = 1; seed <= seeds; seed++) {
    const short = yield* timed(seed, shortMillis)
    const long = yield* timed(seed, longMillis)
    const sim = (long.result.simulatedMillis - short.result.simulatedMillis) / 1000
    const wall = (long.wallMillis - short.wallMillis) / 1000
    loadedSim += sim
    loadedWall += wall
    wholeSim += long.result.simulatedMillis / 1000
    wholeWall += long.wallMillis / 1000
    operations += long.result.operations - short.result.operations
    wholeOperations += long.result.operations + short.result.operations
    loadedCpu += (long.cpuMillis - short.cpuMillis) / 1000
    const verdict = passed(short.result) && passed(long.result) ? "valid" : "VIOLATION (run `sandstore sim --seed` for the report)"
    yield* Console.log(
      `${String(seed).padStart(4)}  ${String(long.result.operations).padStart(9)}  ${sim.toFixed(2).padStart(13)}  ` +
        `${wall.toFixed(2).padStart(6)}  ${(sim / wall).toFixed(1).padStart(8)}   ${(long.result.simulatedMillis / 1000).toFixed(1).padStart(16)}  ` +
        `${(long.wallMillis / 1000).toFixed(2).padStart(6)}  ${(long.result.simulatedMillis / long.wallMillis).toFixed(1).padStart(8)}  ${verdict}`
    )
  }
  yield* Console.log(
    `\nunder load: ${(loadedSim / loadedWall).toFixed(1)} simulated s per wall s ` +
      `(${loadedSim.toFixed(1)} s simulated in ${loadedWall.toFixed(1)} s, ${(operations / loadedWall).toFixed(0)} client ops per wall s)`
  )
  yield* Console.log(
    `CPU under load: ${(loadedCpu * 1000 / operations).toFixed(2)} ms per client operation, ` +
      `${(loadedSim / loadedCpu).toFixed(1)} simulated s per CPU s`
  )
  if (countOps) {
    yield* Console.log(`Effect operations: ${counter.count} over every run (${(counter.count / wholeOperations).toFixed(0)} per client operation)`)
  }
  yield* Console.log(`whole runs: ${(wholeSim / wholeWall).toFixed(1)} simulated s per wall s (${wholeSim.toFixed(1)} s in ${wholeWall.toFixed(1)} s)`)
})

NodeRuntime.runMain(program)

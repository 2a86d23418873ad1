/** Timing and memory helpers shared by the bench sections. */

export interface Timing {
  /** Median of the repetitions, in milliseconds: robust to the odd GC pause or noisy neighbour. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  repetitions: number;
}

/** `global.gc` exists only under `node --expose-gc`; without it GC simply happens when V8 decides. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

export function hasExposedGc(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === "function";
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? 0;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? 0) + upper) / 2;
}

export interface Contender {
  name: string;
  /** One pass over the whole input. Returns a value derived from the work so that it cannot be optimised away. */
  run(): number;
}

export interface InterleaveOptions {
  warmup: number;
  repetitions: number;
  /**
   * Force a full GC before each pass (the default). Throughput turns it off: a forced full GC before every
   * pass deoptimises the code that depends on the previous pass's JSON object shapes ("weak objects" in
   * --trace-deopt) and resets V8's heap sizing, so each pass started in a state a warm Lambda is not in, and
   * the detector's ratio moved from 1.18x to 1.26x the floor depending only on whether an unrelated pass had
   * run first. Without it both contenders collect their garbage while they run, as in production.
   */
  collectBetweenPasses?: boolean;
}

/**
 * Runs the contenders interleaved, after warm-up passes that let V8 optimise the code paths, so that drift in
 * machine speed hits all of them alike. The order rotates from pass to pass (A B, B A, …) so that no
 * contender always runs first, in the state the other one left behind (its garbage, its cache lines).
 * `samples` keeps every counted pass's wall time, in pass order, for ratios pass by pass; `cpuSamples` the
 * CPU time this process spent in the same pass (process.cpuUsage, user + system). On a machine shared with
 * other people's work, a pass's wall time includes the time the scheduler gave the core to someone else,
 * which lands on one contender or the other at random; its CPU time does not.
 */
export function timeInterleaved(
  contenders: readonly Contender[],
  options: InterleaveOptions,
): {
  timings: Map<string, Timing>;
  checks: Map<string, number>;
  samples: Map<string, number[]>;
  cpuSamples: Map<string, number[]>;
} {
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const cpuSamples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const checks = new Map<string, number>();
  for (let pass = 0; pass < options.warmup + options.repetitions; pass++) {
    for (let turn = 0; turn < contenders.length; turn++) {
      const contender = contenders[(pass + turn) % contenders.length] as Contender;
      if (options.collectBetweenPasses ?? true) collectGarbage();
      const cpuStart = process.cpuUsage();
      const start = process.hrtime.bigint();
      const check = contender.run();
      const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
      const cpu = process.cpuUsage(cpuStart);
      checks.set(contender.name, check);
      if (pass >= options.warmup) {
        samples.get(contender.name)?.push(elapsedMs);
        cpuSamples.get(contender.name)?.push((cpu.user + cpu.system) / 1000);
      }
    }
  }
  const timings = new Map<string, Timing>();
  for (const [name, values] of samples) timings.set(name, summarise(values));
  return { timings, checks, samples, cpuSamples };
}

export function summarise(values: readonly number[]): Timing {
  return {
    medianMs: median(values),
    minMs: Math.min(...values),
    maxMs: Math.max(...values),
    repetitions: values.length,
  };
}

/** Min, median and max of a ratio taken pass by pass (each pass's `over` divided by the same pass's `under`). */
export interface RatioRange {
  min: number;
  median: number;
  max: number;
  passes: number;
}

export function ratios(over: readonly number[], under: readonly number[]): RatioRange {
  const values = over.map((value, index) => value / (under[index] ?? Number.NaN));
  return {
    min: Math.min(...values),
    median: median(values),
    max: Math.max(...values),
    passes: values.length,
  };
}

export function formatRatio(range: RatioRange): string {
  return `${range.median.toFixed(2)}x (${range.min.toFixed(2)}-${range.max.toFixed(2)})`;
}

export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (abs >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${Math.round(bytes)} B`;
}

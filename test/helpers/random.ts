/**
 * Seeded randomness for tests: a failure must name the seed that reproduces it. Set SAMSA_SEED to
 * replay (or vary) the seeds a test uses.
 */

/** mulberry32: a 32-bit seeded PRNG returning floats in [0, 1). Small, fast, good enough for tests. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Convenience draws over mulberry32. */
export class Random {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[Math.floor(this.next() * items.length)];
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  /** Printable text of `n` characters. */
  text(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(0x21 + Math.floor(this.next() * 94));
    return s;
  }
}

/**
 * The base seed of a test file: SAMSA_SEED if set, else `fallback`. Fixed by default so that a
 * run is reproducible; set SAMSA_SEED to explore other sequences.
 */
export function baseSeed(fallback: number): number {
  const env = process.env.SAMSA_SEED;
  if (env === undefined || env === "") return fallback;
  const n = Number(env);
  if (!Number.isSafeInteger(n)) throw new Error(`SAMSA_SEED=${env} is not an integer`);
  return n;
}

/**
 * Runs `body` with a Random seeded by `seed`; a failure is rethrown with the seed, and whatever
 * `context` says at that moment (the step, the damage done), prefixed to its message.
 */
export async function withSeed<T>(
  seed: number,
  body: (rng: Random) => Promise<T>,
  context: () => string = () => "",
): Promise<T> {
  try {
    return await body(new Random(seed));
  } catch (err) {
    const where = context();
    const prefix = `[seed ${seed}${where ? `; ${where}` : ""}] `;
    if (err instanceof Error) {
      err.message = prefix + err.message;
      throw err;
    }
    throw new Error(prefix + String(err));
  }
}

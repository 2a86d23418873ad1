/**
 * Seeded randomness so that every run benchmarks the same bytes: a change in the numbers then comes from the
 * code, not from the generator. Names and uids vary per event because real audit logs compress far less
 * than repeated templates would.
 */
export class RandomSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** mulberry32: fast, small, good enough for test data. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new RangeError("pick from an empty list");
    return item;
  }

  hex(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += "0123456789abcdef"[this.int(16)];
    return out;
  }

  /** Kubernetes' generated-name suffix alphabet (no vowels, no confusable digits). */
  suffix(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += "bcdfghjklmnpqrstvwxz2456789"[this.int(27)];
    return out;
  }

  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${this.pick(["8", "9", "a", "b"])}${this.hex(3)}-${this.hex(12)}`;
  }

  digits(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += String(this.int(10));
    return out;
  }

  privateIp(): string {
    return `10.${this.int(4)}.${this.int(256)}.${1 + this.int(254)}`;
  }
}

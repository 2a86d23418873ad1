import { once } from "node:events";
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Writable } from "node:stream";

/**
 * Text entries written out in the order of their keys, with bounded memory: whoever writes ephemeral
 * containers decides how many findings a scan has, so past `maxHeldBytes` the entries held are sorted and
 * written to a temporary file (a "run"), and the runs are merged at the end (an external merge sort). Keys
 * must be unique (callers end them with a sequence number), which also makes the order stable.
 */

export interface SortedOutputOptions {
  /** Text held in memory before a run is written; characters, roughly bytes. */
  maxHeldChars: number;
  /** Where the runs' folder is made (mode 0700: findings name users and pods). */
  tempRoot?: string;
  /** Told once when runs cannot be written: entries are then all held in memory. */
  report: (line: string) => void;
}

export const DEFAULT_MAX_HELD_CHARS = 32 * 1024 * 1024;

interface Entry {
  key: string;
  text: string;
}

const byKey = (a: Entry, b: Entry) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** One sorted source to merge: a run file read line by line, or the entries still in memory. */
async function* readRun(path: string): AsyncGenerator<Entry> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line === "") continue;
    const [key, text] = JSON.parse(line) as [string, string];
    yield { key, text };
  }
}

async function* fromArray(entries: readonly Entry[]): AsyncGenerator<Entry> {
  yield* entries;
}

export class SortedOutput {
  private held: Entry[] = [];
  private heldChars = 0;
  private dir: string | undefined;
  private readonly runs: string[] = [];
  private spillFailed = false;

  constructor(private readonly options: SortedOutputOptions) {}

  /** Runs written so far (for tests and the summary). */
  get runCount(): number {
    return this.runs.length;
  }

  add(key: string, text: string): void {
    this.held.push({ key, text });
    this.heldChars += key.length + text.length;
    if (this.heldChars > this.options.maxHeldChars && !this.spillFailed) this.spill();
  }

  private spill(): void {
    this.held.sort(byKey);
    try {
      this.dir ??= mkdtempSync(join(this.options.tempRoot ?? tmpdir(), "ephemeral-guard-sort-"));
      const path = join(this.dir, `run-${this.runs.length}.jsonl`);
      writeFileSync(path, this.held.map((entry) => `${JSON.stringify([entry.key, entry.text])}\n`).join(""), {
        mode: 0o600,
      });
      this.runs.push(path);
      this.held = [];
      this.heldChars = 0;
    } catch (error) {
      // Nothing is lost: the entries stay in memory, sorted at the end as if there were no limit.
      this.spillFailed = true;
      this.options.report(
        `cannot write a temporary file to sort the findings (${error instanceof Error ? error.message : String(error)}): holding them in memory`,
      );
    }
  }

  /** Writes every entry in key order to `out`, waiting for it to drain, then removes the runs. */
  async writeTo(out: Writable): Promise<void> {
    this.held.sort(byKey);
    const sources = [...this.runs.map(readRun), fromArray(this.held)];
    try {
      const heads = await Promise.all(sources.map((source) => source.next()));
      for (;;) {
        let best = -1;
        for (let index = 0; index < heads.length; index++) {
          const head = heads[index];
          if (head === undefined || head.done) continue;
          const current = best >= 0 ? heads[best] : undefined;
          if (current === undefined || current.done || head.value.key < current.value.key) best = index;
        }
        if (best < 0) break;
        const head = heads[best];
        const source = sources[best];
        if (head === undefined || head.done || source === undefined) break;
        if (!out.write(head.value.text)) await once(out, "drain");
        heads[best] = await source.next();
      }
    } finally {
      await Promise.all(sources.map((source) => source.return(undefined)));
      this.held = [];
      this.heldChars = 0;
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

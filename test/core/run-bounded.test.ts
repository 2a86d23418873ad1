import { describe, expect, it } from "vitest";
import { runBounded } from "../../functions/core/run-bounded.ts";

describe("runBounded", () => {
  it("never has more than the limit in flight, and keeps the items' order", async () => {
    let inFlight = 0;
    let most = 0;
    const results = await runBounded([5, 1, 4, 2, 3, 0, 6], 3, async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Yield a varying number of turns so that calls finish out of order.
      for (let turn = 0; turn < item; turn++) await Promise.resolve();
      inFlight--;
      return item * 10;
    });
    expect(most).toBe(3);
    expect(results).toEqual([50, 10, 40, 20, 30, 0, 60].map((value) => ({ ok: true, value })));
  });

  it("returns a failing item's error in its place and still runs the rest", async () => {
    const results = await runBounded(["a", "boom", "c"], 2, async (item) => {
      if (item === "boom") throw new Error("one bad item");
      return item.toUpperCase();
    });
    expect(results[0]).toEqual({ ok: true, value: "A" });
    expect(results[1]).toMatchObject({ ok: false, error: new Error("one bad item") });
    expect(results[2]).toEqual({ ok: true, value: "C" });
  });

  it("refuses a limit that would run nothing", async () => {
    await expect(runBounded([1], 0, async (item) => item)).rejects.toThrow(RangeError);
  });
});

/**
 * A PNG of a local HTML file, cropped to the page's height, taken by headless Chromium through the DevTools
 * protocol on a pipe (`--remote-debugging-pipe`): no browser-driving package, no port, no download.
 * `--screenshot` alone cannot do it, because it captures a fixed window size and the page height varies.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import * as z from "zod";

/**
 * As root on these machines Chromium needs --no-sandbox; the rest keep it from reaching for Google's
 * services, which a closed network refuses (and which a docs render has no use for).
 */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
  "--disable-lcd-text",
  "--force-color-profile=srgb",
  "--remote-debugging-pipe",
];

export interface ScreenshotOptions {
  chromium: string;
  htmlPath: string;
  pngPath: string;
  /** CSS pixels; the page sets its own width, this is the viewport. */
  width?: number;
  /** Device pixels per CSS pixel: 2 is sharp on high-density screens, at about twice the bytes. */
  scale?: number;
  timeoutMs?: number;
}

export interface Screenshot {
  width: number;
  height: number;
  bytes: number;
}

export class ScreenshotError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ScreenshotError";
  }
}

const ResponseSchema = z.object({
  id: z.number().optional(),
  method: z.string().optional(),
  sessionId: z.string().optional(),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.object({ message: z.string() }).optional(),
});
type Response = z.infer<typeof ResponseSchema>;

/** The DevTools protocol over Chromium's pipe: JSON messages, each ended by a NUL byte. */
class DevToolsPipe {
  private nextId = 1;
  private buffer = "";
  private readonly pending = new Map<
    number,
    { resolve: (r: Response) => void; reject: (e: Error) => void }
  >();
  private readonly waiters: Array<{ method: string; resolve: () => void }> = [];

  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding("utf8");
    output.on("data", (chunk: string) => this.receive(chunk));
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf("\0"); end >= 0; end = this.buffer.indexOf("\0")) {
      const text = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 1);
      const parsed = ResponseSchema.safeParse(JSON.parse(text));
      if (parsed.success) this.dispatch(parsed.data);
    }
  }

  private dispatch(message: Response): void {
    if (message.id !== undefined) {
      const call = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) call?.reject(new ScreenshotError(message.error.message));
      else call?.resolve(message);
      return;
    }
    const index = this.waiters.findIndex((waiter) => waiter.method === message.method);
    if (index >= 0) this.waiters.splice(index, 1)[0]?.resolve();
  }

  failAll(error: Error): void {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  async send(method: string, params: object = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const response = new Promise<Response>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return (await response).result ?? {};
  }

  /** Resolves on the next event `method`; register before the call that causes it. */
  once(method: string): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ method, resolve }));
  }
}

const LayoutSchema = z.object({ cssContentSize: z.object({ width: z.number(), height: z.number() }) });

async function capture(pipe: DevToolsPipe, options: Required<ScreenshotOptions>): Promise<Screenshot> {
  const { targetId } = z
    .object({ targetId: z.string() })
    .parse(await pipe.send("Target.createTarget", { url: "about:blank" }));
  const { sessionId } = z
    .object({ sessionId: z.string() })
    .parse(await pipe.send("Target.attachToTarget", { targetId, flatten: true }));
  const send = (method: string, params: object = {}) => pipe.send(method, params, sessionId);
  await send("Emulation.setDeviceMetricsOverride", {
    width: options.width,
    height: 600,
    deviceScaleFactor: options.scale,
    mobile: false,
  });
  await send("Page.enable");
  const loaded = pipe.once("Page.loadEventFired");
  await send("Page.navigate", { url: pathToFileURL(options.htmlPath).href });
  await loaded;
  const { cssContentSize } = LayoutSchema.parse(await send("Page.getLayoutMetrics"));
  const width = Math.ceil(cssContentSize.width);
  const height = Math.ceil(cssContentSize.height);
  const { data } = z.object({ data: z.string() }).parse(
    await send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width, height, scale: 1 },
    }),
  );
  const png = Buffer.from(data, "base64");
  writeFileSync(options.pngPath, png);
  await pipe.send("Browser.close").catch(() => undefined);
  return { width, height, bytes: png.length };
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ScreenshotError(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when the process has exited, or after `ms` (a stuck browser is killed, never waited on forever). */
function exitOf(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function screenshotHtml(options: ScreenshotOptions): Promise<Screenshot> {
  const settled: Required<ScreenshotOptions> = { width: 780, scale: 1, timeoutMs: 60_000, ...options };
  const profile = mkdtempSync(join(tmpdir(), "render-slack-preview-"));
  let child: ChildProcess | undefined;
  let closed = false;
  try {
    child = spawn(options.chromium, [...FLAGS, `--user-data-dir=${profile}`], {
      stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
    });
    const started = child;
    const [, , stderr, input, output] = started.stdio;
    if (!input || !output || !("write" in input) || !("setEncoding" in output)) {
      throw new ScreenshotError("could not open Chromium's DevTools pipe");
    }
    let log = "";
    stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString("utf8")).slice(-2_000);
    });
    const pipe = new DevToolsPipe(input as Writable, output as Readable);
    // A browser that failed to start closes its end of the pipe: the write fails, and so does the screenshot.
    for (const stream of [input, output]) {
      stream.on("error", (error: Error) =>
        pipe.failAll(new ScreenshotError(`DevTools pipe to ${options.chromium}: ${error.message}`)),
      );
    }
    const exited = new Promise<never>((_, reject) => {
      started.on("error", (error) =>
        reject(new ScreenshotError(`cannot start ${options.chromium}`, { cause: error })),
      );
      started.on("exit", (code, signal) => {
        const error = new ScreenshotError(
          `${options.chromium} exited (${signal ?? code}) before the screenshot was taken: ${log.trim()}`,
        );
        pipe.failAll(error);
        reject(error);
      });
    });
    exited.catch(() => undefined);
    const shot = await withTimeout(
      Promise.race([capture(pipe, settled), exited]),
      settled.timeoutMs,
      "the screenshot",
    );
    closed = true;
    return shot;
  } finally {
    // Browser.close asks it to quit; the profile can only be removed once it has stopped writing to it.
    if (child) {
      const stopped = exitOf(child, 5_000);
      // Browser.close has been sent on success; on failure nobody asked it to quit.
      if (!closed && child.exitCode === null && child.signalCode === null) child.kill();
      await stopped;
    }
    // Its helper processes may still be closing files in it for a moment after the browser has exited.
    rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }
}

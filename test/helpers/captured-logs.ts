import { vi } from "vitest";

/**
 * Captures the JSON lines a handler logs (Powertools writes INFO and EMF to stdout, WARN and ERROR to stderr)
 * into `lines`, keeping them off the console. Undo with vi.restoreAllMocks().
 */
export function captureJsonLogs(lines: Record<string, unknown>[]): void {
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split("\n")) {
        if (line.trim().startsWith("{")) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      return true;
    });
  }
}

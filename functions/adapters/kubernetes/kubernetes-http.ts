import http from "node:http";
import https from "node:https";
import {
  type HttpLibrary,
  type RequestContext,
  ResponseContext,
  wrapHttpLibrary,
} from "@kubernetes/client-node";

/** A pod is at most ~1.5 MB (etcd's object limit); anything far bigger is not an answer we can use. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export class RequestTimeoutError extends Error {
  readonly code = "REQUEST_TIMEOUT";
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
  ) {
    super(`no response from ${new URL(url).host} within ${timeoutMs} ms`);
    this.name = "RequestTimeoutError";
  }
}

/**
 * The client's default fetch has no timeout: a black-holed API server would hold the Lambda until it is
 * killed. This sends the request the client prepared (URL, headers, body and the TLS agent that trusts only
 * the cluster CA) with node:https and abandons it after `timeoutMs`.
 */
export function httpLibraryWithTimeout(timeoutMs: number): HttpLibrary {
  return wrapHttpLibrary({
    send(request: RequestContext): Promise<ResponseContext> {
      return new Promise((resolve, reject) => {
        const url = request.getUrl();
        const transport = url.startsWith("https:") ? https : http;
        const body = request.getBody();
        const payload = typeof body === "string" ? Buffer.from(body, "utf8") : undefined;
        if (body !== undefined && payload === undefined) {
          reject(new TypeError("only string request bodies are supported"));
          return;
        }
        const outgoing = transport.request(url, {
          method: request.getHttpMethod().toString(),
          // Node does not frame DELETE bodies by default: without Content-Length the server misreads them.
          headers: {
            ...request.getHeaders(),
            ...(payload ? { "Content-Length": String(payload.length) } : {}),
          },
          agent: request.getAgent(),
        });
        const timer = setTimeout(() => outgoing.destroy(new RequestTimeoutError(url, timeoutMs)), timeoutMs);
        outgoing.on("error", (error) => {
          clearTimeout(timer);
          reject(error);
        });
        outgoing.on("response", (incoming) => {
          const chunks: Buffer[] = [];
          let size = 0;
          incoming.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              outgoing.destroy(
                new Error(`response from ${new URL(url).host} exceeds ${MAX_RESPONSE_BYTES} bytes`),
              );
              return;
            }
            chunks.push(chunk);
          });
          incoming.on("error", (error) => {
            clearTimeout(timer);
            reject(error);
          });
          incoming.on("end", () => {
            clearTimeout(timer);
            const data = Buffer.concat(chunks);
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(incoming.headers)) {
              if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
            }
            resolve(
              new ResponseContext(incoming.statusCode ?? 0, headers, {
                text: async () => data.toString("utf8"),
                binary: async () => data,
              }),
            );
          });
        });
        outgoing.end(payload);
      });
    },
  });
}

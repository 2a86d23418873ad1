import type { IncomingMessage } from "node:http";

/** A request body beyond the peer's bound: each peer answers it the way its protocol does. */
export class RequestBodyTooLargeError extends Error {
  override name = "RequestBodyTooLargeError";
}

/**
 * The whole body of a request to a loopback peer, as text. The bound keeps a runaway test from eating memory;
 * past it the request is dropped and the promise rejects with RequestBodyTooLargeError.
 */
export async function readRequestBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) {
      request.destroy();
      throw new RequestBodyTooLargeError(`request body larger than ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

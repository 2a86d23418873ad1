import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { RequestBodyTooLargeError, readRequestBody } from "./read-request-body.ts";

/**
 * A small Amazon SNS peer for tests: speaks the query protocol the AWS SDK v3 SNS client uses (form-encoded
 * POST, XML answers) on 127.0.0.1, implements Publish and PublishBatch, records what it accepted and can
 * fail on demand. serverless-offline-sns lacks PublishBatch, hence this.
 *
 * Point a client at it with `new SNSClient({ endpoint: server.endpoint, region: "us-east-1",
 * credentials: { accessKeyId: "test", secretAccessKey: "test" } })`.
 */

export interface SnsMessageAttribute {
  dataType: string;
  value: string;
}

export interface SnsPublishedMessage {
  messageId: string;
  topicArn: string;
  message: string;
  subject?: string;
  messageAttributes: Record<string, SnsMessageAttribute>;
  action: "Publish" | "PublishBatch";
  /** The entry Id inside a PublishBatch request. */
  batchEntryId?: string;
}

export interface SnsRequestRecord {
  action: string;
  params: Record<string, string>;
  /** What the peer answered with: an HTTP status, or "reset"/"refused" when it dropped the connection. */
  answer: number | "reset";
}

/**
 * How to fail:
 * - `http`: answer every request with this status and an SNS error document (500 = InternalError, retried by
 *   the SDK; 400 codes are not retried);
 * - `reset`: accept the TCP connection then destroy it (the SDK sees ECONNRESET / socket hang up);
 * - `refuse`: stop listening, so connections are refused (ECONNREFUSED) until `recover()`.
 */
export type SnsFailure =
  | { kind: "http"; status: number; code?: string; message?: string }
  | { kind: "reset" }
  | { kind: "refuse" };

export interface SnsBatchEntryFailure {
  code: string;
  message: string;
  senderFault?: boolean;
}

export interface SnsServerOptions {
  /** Topics that exist; others get NotFound. Any topic is accepted when omitted. */
  topics?: readonly string[];
}

export interface SnsServer {
  readonly endpoint: string;
  readonly port: number;
  /** Messages accepted, in order. */
  readonly published: SnsPublishedMessage[];
  /** Every request that reached the peer, accepted or not. */
  readonly requests: SnsRequestRecord[];
  /**
   * Fail every request from now on (until `recover()`), or only the next `times` requests; with `action`,
   * only requests for that action (`Publish`, `PublishBatch`) fail (not with `refuse`, which stops listening).
   */
  fail(failure: SnsFailure, times?: number, action?: string): Promise<void>;
  /** Fail individual PublishBatch entries whose message body matches, answering 200 with them in Failed. */
  failEntries(matches: (message: string) => boolean, failure?: SnsBatchEntryFailure): void;
  /**
   * Hold every request until `count` are waiting at once, then answer them all and stop holding. A client
   * that never has `count` requests in flight at once never gets an answer: a test of parallelism that
   * cannot pass by luck of timing.
   */
  holdUntilConcurrent(count: number): void;
  /** The most requests the peer has had in flight at once since the last clear(). */
  readonly maxConcurrent: number;
  /** Back to normal: listening, answering 200, no entry failures, nothing held. */
  recover(): Promise<void>;
  /** Forget what was recorded. */
  clear(): void;
  stop(): Promise<void>;
}

const XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/";
const MAX_BATCH_ENTRIES = 10;
/** SNS's limits: one message, attributes included, and one PublishBatch request in total. */
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_BATCH_BYTES = 256 * 1024;
/** SNS accepts XML 1.0 characters only: no C0 controls but tab, LF, CR; no lone surrogates, U+FFFE, U+FFFF. */
const NOT_XML_CHARACTER =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Bound on a request body; SNS's own limit for a whole PublishBatch is 256 KiB. */
const MAX_BODY_BYTES = 1024 * 1024;

class SnsRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "SnsRequestError";
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

function errorXml(type: "Sender" | "Receiver", code: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(
    message,
  )}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

function responseXml(action: string, result: string, requestId: string): string {
  return `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
}

/** `MessageAttributes.entry.N.Name` / `.Value.DataType` / `.Value.StringValue` under `prefix`. */
function readAttributes(params: Record<string, string>, prefix: string): Record<string, SnsMessageAttribute> {
  const attributes: Record<string, SnsMessageAttribute> = {};
  for (let index = 1; index <= 50; index++) {
    const name = params[`${prefix}MessageAttributes.entry.${index}.Name`];
    if (name === undefined) break;
    const dataType = params[`${prefix}MessageAttributes.entry.${index}.Value.DataType`];
    const value =
      params[`${prefix}MessageAttributes.entry.${index}.Value.StringValue`] ??
      params[`${prefix}MessageAttributes.entry.${index}.Value.BinaryValue`];
    if (dataType === undefined || value === undefined) {
      throw new SnsRequestError(400, "InvalidParameterValue", `message attribute ${name} has no value`);
    }
    if (dataType === "Number" && !Number.isFinite(Number(value))) {
      throw new SnsRequestError(400, "InvalidParameterValue", `attribute ${name} is not a Number: ${value}`);
    }
    attributes[name] = { dataType, value };
  }
  // SNS takes at most 10 message attributes per message.
  const count = Object.keys(attributes).length;
  if (count > 10) {
    throw new SnsRequestError(
      400,
      "InvalidParameterValue",
      `Number of message attributes [${count}] exceeds the allowed maximum [10].`,
    );
  }
  return attributes;
}

/** The bytes SNS counts for a message: body plus each attribute's name, data type and value. */
function messageBytes(message: string, attributes: Record<string, SnsMessageAttribute>): number {
  let size = Buffer.byteLength(message);
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.dataType) + Buffer.byteLength(value.value);
  }
  return size;
}

/** What SNS refuses in a message as the sender's fault: too long, or characters it does not take. */
function checkMessage(message: string, attributes: Record<string, SnsMessageAttribute>): number {
  const size = messageBytes(message, attributes);
  if (size > MAX_MESSAGE_BYTES) {
    throw new SnsRequestError(400, "InvalidParameter", "Invalid parameter: Message too long");
  }
  for (const text of [message, ...Object.values(attributes).map((attribute) => attribute.value)]) {
    if (NOT_XML_CHARACTER.test(text)) {
      throw new SnsRequestError(
        400,
        "InvalidParameter",
        "Invalid parameter: Message contains invalid characters",
      );
    }
  }
  return size;
}

function required(params: Record<string, string>, name: string): string {
  const value = params[name];
  if (value === undefined || value === "") {
    throw new SnsRequestError(400, "InvalidParameter", `${name} is required`);
  }
  return value;
}

async function readSnsBody(request: IncomingMessage): Promise<string> {
  try {
    return await readRequestBody(request, MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof RequestBodyTooLargeError) {
      throw new SnsRequestError(413, "RequestTooLarge", "request body too large");
    }
    throw error;
  }
}

export async function startSnsServer(options: SnsServerOptions = {}): Promise<SnsServer> {
  const published: SnsPublishedMessage[] = [];
  const requests: SnsRequestRecord[] = [];
  const sockets = new Set<Socket>();
  let failure: SnsFailure | undefined;
  let failuresLeft = Number.POSITIVE_INFINITY;
  let failingAction: string | undefined;
  let entryFailure: { matches: (message: string) => boolean; failure: SnsBatchEntryFailure } | undefined;
  let listening = false;
  let inFlight = 0;
  let maxConcurrent = 0;
  let hold: { count: number; waiting: Array<() => void> } | undefined;

  /** Resolves when the request may be answered (see holdUntilConcurrent). */
  function mayAnswer(): Promise<void> {
    if (!hold) return Promise.resolve();
    const gate = hold;
    return new Promise((resolve) => {
      gate.waiting.push(resolve);
      if (gate.waiting.length >= gate.count) {
        hold = undefined;
        for (const release of gate.waiting) release();
      }
    });
  }

  function checkTopic(topicArn: string): void {
    if (options.topics && !options.topics.includes(topicArn)) {
      throw new SnsRequestError(404, "NotFound", "Topic does not exist");
    }
  }

  function publish(params: Record<string, string>): string {
    const topicArn = required(params, "TopicArn");
    checkTopic(topicArn);
    const messageId = randomUUID();
    const message = required(params, "Message");
    const messageAttributes = readAttributes(params, "");
    checkMessage(message, messageAttributes);
    published.push({
      messageId,
      topicArn,
      message,
      ...(params.Subject === undefined ? {} : { subject: params.Subject }),
      messageAttributes,
      action: "Publish",
    });
    return `<MessageId>${messageId}</MessageId>`;
  }

  function publishBatch(params: Record<string, string>): string {
    const topicArn = required(params, "TopicArn");
    checkTopic(topicArn);
    const entries: Omit<SnsPublishedMessage, "messageId">[] = [];
    for (let index = 1; params[`PublishBatchRequestEntries.member.${index}.Id`] !== undefined; index++) {
      if (index > MAX_BATCH_ENTRIES) {
        throw new SnsRequestError(400, "TooManyEntriesInBatchRequest", "more than 10 entries");
      }
      const prefix = `PublishBatchRequestEntries.member.${index}.`;
      const subject = params[`${prefix}Subject`];
      entries.push({
        topicArn,
        batchEntryId: required(params, `${prefix}Id`),
        message: required(params, `${prefix}Message`),
        ...(subject === undefined ? {} : { subject }),
        messageAttributes: readAttributes(params, prefix),
        action: "PublishBatch",
      });
    }
    if (entries.length === 0) throw new SnsRequestError(400, "EmptyBatchRequest", "no entries");
    let batchBytes = 0;
    for (const entry of entries) batchBytes += checkMessage(entry.message, entry.messageAttributes);
    if (batchBytes > MAX_BATCH_BYTES) {
      throw new SnsRequestError(
        400,
        "BatchRequestTooLong",
        "The length of all the batch messages put together is more than the limit.",
      );
    }
    if (new Set(entries.map((entry) => entry.batchEntryId)).size !== entries.length) {
      throw new SnsRequestError(400, "BatchEntryIdsNotDistinct", "entry ids are not distinct");
    }
    let successful = "";
    let failed = "";
    for (const entry of entries) {
      const id = escapeXml(entry.batchEntryId ?? "");
      if (entryFailure?.matches(entry.message)) {
        const { code, message, senderFault = false } = entryFailure.failure;
        failed += `<member><Id>${id}</Id><Code>${escapeXml(code)}</Code><Message>${escapeXml(
          message,
        )}</Message><SenderFault>${senderFault}</SenderFault></member>`;
        continue;
      }
      const messageId = randomUUID();
      published.push({ ...entry, messageId });
      successful += `<member><Id>${id}</Id><MessageId>${messageId}</MessageId></member>`;
    }
    return `<Successful>${successful}</Successful><Failed>${failed}</Failed>`;
  }

  const actions: Record<string, (params: Record<string, string>) => string> = {
    Publish: publish,
    PublishBatch: publishBatch,
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    let params: Record<string, string> = {};
    let action = "";
    const answer = (status: number, xml: string) => {
      requests.push({ action, params, answer: status });
      response.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": requestId });
      response.end(xml);
    };
    inFlight++;
    maxConcurrent = Math.max(maxConcurrent, inFlight);
    response.on("close", () => inFlight--);
    try {
      params = Object.fromEntries(new URLSearchParams(await readSnsBody(request)));
      action = params.Action ?? "";
      await mayAnswer();
      if (failure && failuresLeft > 0 && (failingAction === undefined || failingAction === action)) {
        failuresLeft--;
        if (failure.kind === "http") {
          const type = failure.status >= 500 ? "Receiver" : "Sender";
          answer(
            failure.status,
            errorXml(type, failure.code ?? "InternalError", failure.message ?? "injected failure", requestId),
          );
          return;
        }
        requests.push({ action, params, answer: "reset" });
        request.socket.destroy();
        return;
      }
      if (request.method !== "POST") throw new SnsRequestError(405, "InvalidAction", "POST only");
      const run = actions[action];
      if (!run) throw new SnsRequestError(400, "InvalidAction", `unsupported action ${action}`);
      answer(200, responseXml(action, run(params), requestId));
    } catch (error) {
      if (error instanceof SnsRequestError) {
        answer(error.status, errorXml("Sender", error.code, error.message, requestId));
      } else {
        answer(500, errorXml("Receiver", "InternalError", String(error), requestId));
      }
    }
  }

  const server: Server = createServer((request, response) => {
    void handle(request, response);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    listening = true;
    return (server.address() as AddressInfo).port;
  }

  async function close(): Promise<void> {
    if (!listening) return;
    listening = false;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  const port = await listen(0);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    published,
    requests,
    async fail(next, times = Number.POSITIVE_INFINITY, action) {
      failure = next;
      failuresLeft = times;
      failingAction = action;
      if (next.kind === "refuse") await close();
    },
    failEntries(matches, entry = { code: "InternalError", message: "injected entry failure" }) {
      entryFailure = { matches, failure: entry };
    },
    holdUntilConcurrent(count) {
      hold = { count, waiting: [] };
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    async recover() {
      failure = undefined;
      failuresLeft = Number.POSITIVE_INFINITY;
      failingAction = undefined;
      entryFailure = undefined;
      for (const release of hold?.waiting ?? []) release();
      hold = undefined;
      if (!listening) await listen(port);
    },
    clear() {
      published.length = 0;
      requests.length = 0;
      maxConcurrent = inFlight;
    },
    stop: close,
  };
}

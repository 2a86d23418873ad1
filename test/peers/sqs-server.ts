import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen-on-loopback.ts";
import { RequestBodyTooLargeError, readRequestBody } from "./read-request-body.ts";

/**
 * A small Amazon SQS peer for tests: speaks the JSON 1.0 protocol the AWS SDK v3 SQS client uses
 * (`X-Amz-Target: AmazonSQS.<Action>`) on 127.0.0.1, with SendMessage, ReceiveMessage (visibility
 * timeouts), DeleteMessage and GetQueueAttributes on named queues. No npm SQS emulator runs on Node 20
 * with the JSON protocol (fauxqs needs Node 22.5, sqslite speaks only the query protocol).
 */

export interface SqsStoredMessage {
  messageId: string;
  body: string;
  /** Epoch ms until which the message is invisible (received and not deleted). */
  invisibleUntil: number;
  receiveCount: number;
  receiptHandle?: string;
}

export interface SqsServer {
  readonly endpoint: string;
  /** `http://127.0.0.1:<port>/123456789012/<name>`; creates the queue. */
  queueUrl(name: string): string;
  /** Messages currently in the queue (visible or not). */
  messages(name: string): SqsStoredMessage[];
  /** Makes every received-but-not-deleted message visible again, as if its visibility timeout ran out. */
  expireVisibility(): void;
  requests: { action: string; input: Record<string, unknown> }[];
  stop(): Promise<void>;
}

const ACCOUNT = "123456789012";
const MAX_BODY_BYTES = 1024 * 1024;

class SqsRequestError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly queryError: string,
    message: string,
  ) {
    super(message);
  }
}

function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readRequestBody(request, MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof RequestBodyTooLargeError) {
      throw new SqsRequestError(413, "RequestTooLarge", "RequestTooLarge", "too large");
    }
    throw error;
  }
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

export async function startSqsServer(): Promise<SqsServer> {
  const queues = new Map<string, SqsStoredMessage[]>();
  const requests: SqsServer["requests"] = [];
  let endpoint = "";

  function queueOf(input: Record<string, unknown>): SqsStoredMessage[] {
    const url = String(input.QueueUrl ?? "");
    const name = url.split("/").pop() ?? "";
    const queue = queues.get(name);
    if (!queue) {
      throw new SqsRequestError(
        400,
        "com.amazonaws.sqs#QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue;Sender",
        `queue ${url} does not exist`,
      );
    }
    return queue;
  }

  const actions: Record<string, (input: Record<string, unknown>) => unknown> = {
    SendMessage(input) {
      const body = String(input.MessageBody ?? "");
      const message: SqsStoredMessage = { messageId: randomUUID(), body, invisibleUntil: 0, receiveCount: 0 };
      queueOf(input).push(message);
      return { MessageId: message.messageId, MD5OfMessageBody: md5(body) };
    },
    ReceiveMessage(input) {
      const queue = queueOf(input);
      const max = Math.min(Number(input.MaxNumberOfMessages ?? 1), 10);
      const visibilityMs = Number(input.VisibilityTimeout ?? 30) * 1000;
      const now = Date.now();
      const picked = queue.filter((message) => message.invisibleUntil <= now).slice(0, max);
      for (const message of picked) {
        message.invisibleUntil = now + visibilityMs;
        message.receiveCount++;
        message.receiptHandle = randomUUID();
      }
      return {
        Messages: picked.map((message) => ({
          MessageId: message.messageId,
          ReceiptHandle: message.receiptHandle,
          MD5OfBody: md5(message.body),
          Body: message.body,
          Attributes: { ApproximateReceiveCount: String(message.receiveCount) },
        })),
      };
    },
    DeleteMessage(input) {
      const queue = queueOf(input);
      const index = queue.findIndex((message) => message.receiptHandle === input.ReceiptHandle);
      if (index === -1) {
        throw new SqsRequestError(
          400,
          "com.amazonaws.sqs#ReceiptHandleIsInvalid",
          "ReceiptHandleIsInvalid;Sender",
          "receipt handle is invalid",
        );
      }
      queue.splice(index, 1);
      return {};
    },
    GetQueueAttributes(input) {
      const queue = queueOf(input);
      const now = Date.now();
      return {
        Attributes: {
          ApproximateNumberOfMessages: String(queue.filter((m) => m.invisibleUntil <= now).length),
          ApproximateNumberOfMessagesNotVisible: String(queue.filter((m) => m.invisibleUntil > now).length),
        },
      };
    },
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/x-amz-json-1.0", ...headers });
      response.end(JSON.stringify(body));
    };
    try {
      const target = String(request.headers["x-amz-target"] ?? "");
      const action = target.replace(/^AmazonSQS\./, "");
      const input = await readJson(request);
      requests.push({ action, input });
      const run = actions[action];
      if (!run) {
        throw new SqsRequestError(400, "com.amazonaws.sqs#InvalidAction", "InvalidAction;Sender", target);
      }
      answer(200, run(input));
    } catch (error) {
      if (error instanceof SqsRequestError) {
        answer(
          error.status,
          { __type: error.type, message: error.message },
          { "x-amzn-query-error": error.queryError },
        );
      } else answer(500, { __type: "com.amazonaws.sqs#InternalError", message: String(error) });
    }
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const listener = await listenOnLoopback(server);
  endpoint = `http://127.0.0.1:${listener.port}`;

  return {
    endpoint,
    queueUrl(name) {
      if (!queues.has(name)) queues.set(name, []);
      return `${endpoint}/${ACCOUNT}/${name}`;
    },
    messages(name) {
      return queues.get(name) ?? [];
    },
    expireVisibility() {
      for (const queue of queues.values()) for (const message of queue) message.invisibleUntil = 0;
    },
    requests,
    async stop() {
      await listener.close();
    },
  };
}

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen-on-loopback.ts";
import { readRequestBody } from "./read-request-body.ts";

/**
 * An AWS Systems Manager Parameter Store and Secrets Manager peer for tests, on 127.0.0.1. Speaks the
 * AWS JSON 1.1 protocol the SDK v3 clients use (POST /, `X-Amz-Target: AmazonSSM.GetParameter` or
 * `secretsmanager.GetSecretValue`, JSON body) and records every call, so tests can count fetches and see
 * that WithDecryption was asked for. A SecureString is only returned in clear with WithDecryption=true,
 * as the real service does (otherwise the value is a ciphertext blob).
 *
 * Point clients at it with `endpoint: server.endpoint`, any region and fake static credentials.
 */

export interface SsmCall {
  target: string;
  body: Record<string, unknown>;
  /** Whether the request carried a SigV4 Authorization header (the real clients always sign). */
  signed: boolean;
  status: number;
}

export interface StoredParameter {
  value: string;
  type?: "String" | "SecureString";
}

export interface SsmServer {
  readonly endpoint: string;
  readonly calls: SsmCall[];
  setParameter(name: string, parameter: StoredParameter): void;
  setSecret(id: string, secretString: string): void;
  /** Answer the next `times` calls with this error (e.g. 400 AccessDeniedException, 500 InternalServerError). */
  failNext(status: number, type: string, times?: number): void;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

function asRecord(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

const REGION = "eu-west-1";
const ACCOUNT = "111122223333";

export async function startSsmServer(): Promise<SsmServer> {
  const calls: SsmCall[] = [];
  const parameters = new Map<string, StoredParameter>();
  const secrets = new Map<string, string>();
  const failures: Array<{ status: number; type: string }> = [];

  function answer(target: string, body: Record<string, unknown>): { status: number; payload: unknown } {
    const failure = failures.shift();
    if (failure)
      return { status: failure.status, payload: { __type: failure.type, message: "injected failure" } };
    if (target === "AmazonSSM.GetParameter") {
      const name = typeof body.Name === "string" ? body.Name : "";
      const parameter = parameters.get(name);
      if (!parameter)
        return { status: 400, payload: { __type: "ParameterNotFound", message: `${name} not found` } };
      const type = parameter.type ?? "SecureString";
      const clear = type !== "SecureString" || body.WithDecryption === true;
      return {
        status: 200,
        payload: {
          Parameter: {
            Name: name,
            Type: type,
            Value: clear ? parameter.value : Buffer.from(`kms-ciphertext:${name}`).toString("base64"),
            Version: 1,
            LastModifiedDate: 1_763_600_000,
            ARN: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name.startsWith("/") ? "" : "/"}${name}`,
            DataType: "text",
          },
        },
      };
    }
    if (target === "secretsmanager.GetSecretValue") {
      const id = typeof body.SecretId === "string" ? body.SecretId : "";
      const secret = secrets.get(id);
      if (secret === undefined) {
        return {
          status: 400,
          payload: {
            __type: "ResourceNotFoundException",
            message: "Secrets Manager can't find the specified secret.",
          },
        };
      }
      return {
        status: 200,
        payload: {
          ARN: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`,
          Name: id,
          SecretString: secret,
          VersionId: "00000000-0000-4000-8000-000000000001",
          VersionStages: ["AWSCURRENT"],
          CreatedDate: 1_763_600_000,
        },
      };
    }
    return {
      status: 400,
      payload: { __type: "UnknownOperationException", message: `unsupported ${target}` },
    };
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    readRequestBody(request, MAX_BODY_BYTES).then(
      (text) => {
        const target = String(request.headers["x-amz-target"] ?? "");
        const body = asRecord(text);
        const { status, payload } = answer(target, body);
        calls.push({ target, body, signed: typeof request.headers.authorization === "string", status });
        response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        response.end(JSON.stringify(payload));
      },
      () => {
        response.writeHead(413);
        response.end();
      },
    );
  });
  const listener = await listenOnLoopback(server);
  const { port } = listener;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    setParameter(name, parameter) {
      parameters.set(name, parameter);
    },
    setSecret(id, secretString) {
      secrets.set(id, secretString);
    },
    failNext(status, type, times = 1) {
      for (let index = 0; index < times; index++) failures.push({ status, type });
    },
    stop() {
      return listener.close();
    },
  };
}

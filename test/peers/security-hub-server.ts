import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen-on-loopback.ts";
import { readRequestBody } from "./read-request-body.ts";

/**
 * An AWS Security Hub peer for tests, on 127.0.0.1: BatchImportFindings as the real service speaks it
 * (REST-JSON, `POST /findings/import`, `{"Findings": [...]}` in, `{FailedCount, SuccessCount, FailedFindings}`
 * out). Findings are kept by ProductArn and Id, so importing the same Id again updates the finding, as Security
 * Hub does. Each finding is checked the way the service refuses it, as a partial failure (`InvalidInput` in
 * FailedFindings, the call itself succeeds): required fields, ASFF's string and list limits, 240 KB, and a
 * default-product ARN that must name the finding's own account. More than 100 findings fail the whole call.
 *
 * Point the SDK at it with AWS_ENDPOINT_URL_SECURITYHUB (or `endpoint`), any region, fake credentials.
 */

export interface ImportCall {
  path: string;
  findings: Record<string, unknown>[];
  signed: boolean;
  status: number;
}

export interface SecurityHubServer {
  readonly endpoint: string;
  readonly calls: ImportCall[];
  /** Current findings by `${ProductArn} ${Id}`: what a console user would see. */
  readonly findings: Map<string, Record<string, unknown>>;
  /** Answer the next call with this HTTP error (e.g. 500 InternalException, 403 InvalidAccessException). */
  failNext(status: number, type: string): void;
  /** In the next call, refuse the findings at these positions as FailedFindings with `code`. */
  refuseNext(positions: number[], code: string, message?: string): void;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const MAX_FINDING_BYTES = 240 * 1024;
const DEFAULT_PRODUCT = /^arn:aws[a-z-]*:securityhub:[a-z0-9-]+:(\d{12}):product\/(\d{12})\/default$/;
const REQUIRED = [
  "SchemaVersion",
  "Id",
  "ProductArn",
  "GeneratorId",
  "AwsAccountId",
  "CreatedAt",
  "UpdatedAt",
  "Title",
  "Description",
  "Resources",
] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function tooLong(value: unknown, max: number): boolean {
  return typeof value === "string" && value.length > max;
}

/** Why Security Hub would refuse this finding, or undefined when it takes it. */
export function asffProblem(finding: Record<string, unknown>): string | undefined {
  for (const field of REQUIRED) if (finding[field] === undefined) return `${field} is required`;
  if (finding.SchemaVersion !== "2018-10-08") return "SchemaVersion must be 2018-10-08";
  const severity = isRecord(finding.Severity)
    ? finding.Severity
    : isRecord(finding.FindingProviderFields)
      ? finding.FindingProviderFields.Severity
      : undefined;
  if (!isRecord(severity) || typeof severity.Label !== "string") return "Severity.Label is required";
  const product = DEFAULT_PRODUCT.exec(String(finding.ProductArn));
  if (!product || product[1] !== product[2] || product[1] !== finding.AwsAccountId) {
    return "ProductArn must be the default product of AwsAccountId";
  }
  if (tooLong(finding.Id, 512) || tooLong(finding.GeneratorId, 512)) return "Id or GeneratorId over 512";
  if (tooLong(finding.Title, 256)) return "Title over 256 characters";
  if (tooLong(finding.Description, 1024)) return "Description over 1024 characters";
  for (const time of ["CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"]) {
    if (finding[time] !== undefined && !Number.isFinite(Date.parse(String(finding[time])))) {
      return `${time} is not a date`;
    }
  }
  if (Array.isArray(finding.Types) && finding.Types.length > 50) return "more than 50 Types";
  const fields = isRecord(finding.ProductFields) ? Object.entries(finding.ProductFields) : [];
  if (fields.length > 50) return "more than 50 ProductFields";
  if (fields.some(([key, value]) => key.length > 128 || tooLong(value, 2048)))
    return "ProductFields entry too long";
  const resources = Array.isArray(finding.Resources) ? finding.Resources : [];
  if (resources.length === 0 || resources.length > 32) return "Resources must hold 1 to 32 resources";
  for (const resource of resources) {
    if (!isRecord(resource) || typeof resource.Type !== "string" || typeof resource.Id !== "string") {
      return "each resource needs Type and Id";
    }
    const other =
      isRecord(resource.Details) && isRecord(resource.Details.Other) ? resource.Details.Other : {};
    if (Object.values(other).some((value) => typeof value !== "string" || value.length >= 1024)) {
      return "Details.Other values must be strings under 1024 characters";
    }
  }
  if (
    tooLong(
      isRecord(finding.Remediation) && isRecord(finding.Remediation.Recommendation)
        ? finding.Remediation.Recommendation.Text
        : undefined,
      512,
    )
  ) {
    return "Remediation.Recommendation.Text over 512 characters";
  }
  if (Buffer.byteLength(JSON.stringify(finding)) > MAX_FINDING_BYTES) return "Finding size exceeded 240 KB";
  return undefined;
}

export async function startSecurityHubServer(): Promise<SecurityHubServer> {
  const calls: ImportCall[] = [];
  const findings = new Map<string, Record<string, unknown>>();
  const failures: Array<{ status: number; type: string }> = [];
  const refusals: Array<{ positions: number[]; code: string; message: string }> = [];

  function answer(path: string, body: unknown): { status: number; payload: unknown; type?: string } {
    const failure = failures.shift();
    if (failure)
      return { status: failure.status, type: failure.type, payload: { Message: "injected failure" } };
    if (path !== "/findings/import") {
      return { status: 404, type: "ResourceNotFoundException", payload: { Message: `no route ${path}` } };
    }
    const list = isRecord(body) && Array.isArray(body.Findings) ? body.Findings : undefined;
    if (!list)
      return { status: 400, type: "InvalidInputException", payload: { Message: "Findings is required" } };
    if (list.length > 100) {
      return {
        status: 400,
        type: "InvalidInputException",
        payload: { Message: "at most 100 findings per request" },
      };
    }
    const refusal = refusals.shift();
    const failed: Array<{ Id: string; ErrorCode: string; ErrorMessage: string }> = [];
    list.forEach((item: unknown, position) => {
      const finding = isRecord(item) ? item : {};
      const id = String(finding.Id ?? "(no Id)");
      if (refusal?.positions.includes(position)) {
        failed.push({ Id: id, ErrorCode: refusal.code, ErrorMessage: refusal.message });
        return;
      }
      const problem = asffProblem(finding);
      if (problem) {
        failed.push({ Id: id, ErrorCode: "InvalidInput", ErrorMessage: problem });
        return;
      }
      findings.set(`${String(finding.ProductArn)} ${id}`, finding);
    });
    return {
      status: 200,
      payload: {
        FailedCount: failed.length,
        SuccessCount: list.length - failed.length,
        FailedFindings: failed,
      },
    };
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    readRequestBody(request, MAX_BODY_BYTES).then(
      (text) => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const path = (request.url ?? "").split("?")[0] ?? "";
        const { status, payload, type } = answer(path, body);
        calls.push({
          path,
          findings:
            isRecord(body) && Array.isArray(body.Findings)
              ? (body.Findings as Record<string, unknown>[])
              : [],
          signed: typeof request.headers.authorization === "string",
          status,
        });
        response.writeHead(status, {
          "content-type": "application/json",
          ...(type ? { "x-amzn-errortype": type } : {}),
        });
        response.end(JSON.stringify(payload));
      },
      () => {
        response.writeHead(413);
        response.end();
      },
    );
  });
  const listener = await listenOnLoopback(server);

  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    calls,
    findings,
    failNext(status, type) {
      failures.push({ status, type });
    },
    refuseNext(positions, code, message = "refused by the test") {
      refusals.push({ positions, code, message });
    },
    stop() {
      return listener.close();
    },
  };
}

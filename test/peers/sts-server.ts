import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { listenOnLoopback } from "./listen-on-loopback.ts";
import { readRequestBody } from "./read-request-body.ts";

/**
 * AWS STS for tests, on 127.0.0.1: the query protocol the SDK v3 STS client speaks (form-encoded POST, XML
 * answers), with AssumeRole as IAM decides it and the check an EKS API server's authenticator makes of a
 * bearer token.
 *
 * - Callers are known principals (a role's session credentials). Every request's SigV4 signature is
 *   recomputed with the caller's secret: an unknown key or a wrong signature is refused as STS refuses it.
 * - AssumeRole succeeds only for a registered role whose trust policy names the caller's role and whose
 *   external id (when it has one) is the one sent; the caller gets new temporary credentials that expire
 *   after DurationSeconds on the peer's clock.
 * - `authenticate(token)` is what aws-iam-authenticator does with an EKS token: decode the presigned
 *   GetCallerIdentity URL, check its signature with the secret of the credentials that signed it, its expiry
 *   and the cluster it was made for, and answer with the identity (the assumed role's ARN).
 */

const XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/";
const MAX_BODY_BYTES = 64 * 1024;
const TOKEN_PREFIX = "k8s-aws-v1.";
/** The API server accepts a token for 15 minutes after it was signed, whatever X-Amz-Expires says. */
const TOKEN_VALIDITY_MS = 15 * 60_000;

export interface StsPrincipal {
  /** The role ARN the principal acts as (`arn:aws:iam::<account>:role/<name>`). */
  roleArn: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface StsRole {
  arn: string;
  /** The role ARN its trust policy allows to assume it. */
  trusts: string;
  /** sts:ExternalId the trust policy requires; none required when absent. */
  externalId?: string;
}

export interface IssuedSession {
  roleArn: string;
  sessionName: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export interface StsCall {
  action: string;
  params: Record<string, string>;
  /** The caller's role ARN, when the request was signed by a known principal with a valid signature. */
  caller?: string;
  status: number;
}

export interface StsServer {
  readonly endpoint: string;
  readonly calls: StsCall[];
  readonly issued: IssuedSession[];
  addPrincipal(principal: StsPrincipal): void;
  addRole(role: StsRole): void;
  /** What an EKS cluster's authenticator concludes from a bearer token: the role ARN, or why it refuses. */
  authenticate(
    token: string | undefined,
    cluster: string,
  ): { ok: true; roleArn: string; accessKeyId: string } | { ok: false; reason: string };
  stop(): Promise<void>;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

function errorXml(code: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(
    message,
  )}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Secret {
  roleArn: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

function signer(secret: Secret, region: string): SignatureV4 {
  return new SignatureV4({
    service: "sts",
    region,
    credentials: {
      accessKeyId: "",
      secretAccessKey: secret.secretAccessKey,
      ...(secret.sessionToken ? { sessionToken: secret.sessionToken } : {}),
    },
    sha256: Hash.bind(null, "sha256"),
  });
}

/** `20261120T093000Z` → Date. */
function amzDate(text: string): Date {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) return new Date(Number.NaN);
  const [, y, mo, d, h, mi, s] = match;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
}

export async function startStsServer(options: { now?: () => Date } = {}): Promise<StsServer> {
  const now = options.now ?? (() => new Date());
  const calls: StsCall[] = [];
  const issued: IssuedSession[] = [];
  const secrets = new Map<string, Secret>();
  const roles = new Map<string, StsRole>();

  function live(secret: Secret | undefined): secret is Secret {
    return secret !== undefined && (secret.expiration === undefined || secret.expiration > now());
  }

  /** The caller of a signed request, after recomputing its signature; throws as STS answers otherwise. */
  async function caller(request: IncomingMessage, body: string): Promise<Secret> {
    const match = AUTHORIZATION.exec(String(request.headers.authorization ?? ""));
    if (!match)
      throw new StsError(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
    const [, accessKeyId = "", , region = "", signedHeaders = "", signature = ""] = match;
    const secret = secrets.get(accessKeyId);
    if (!live(secret)) {
      throw new StsError(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
      );
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders.split(";")) headers[name] = String(request.headers[name] ?? "");
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const recomputed = await signer(secret, region).sign(
      new HttpRequest({
        method: request.method ?? "POST",
        protocol: "http:",
        hostname: headers.host ?? "",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body,
      }),
      {
        signingDate: amzDate(headers["x-amz-date"] ?? ""),
        signableHeaders: new Set(signedHeaders.split(";")),
      },
    );
    const expected = /Signature=([0-9a-f]{64})/.exec(String(recomputed.headers.authorization ?? ""))?.[1];
    if (expected !== signature) {
      throw new StsError(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
      );
    }
    if ((secret.sessionToken ?? "") !== String(request.headers["x-amz-security-token"] ?? "")) {
      throw new StsError(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
      );
    }
    return secret;
  }

  function assumeRole(params: Record<string, string>, from: Secret): string {
    const roleArn = params.RoleArn ?? "";
    const sessionName = params.RoleSessionName ?? "";
    const role = roles.get(roleArn);
    const denied = `User: ${from.roleArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
    if (!role || role.trusts !== from.roleArn) throw new StsError(403, "AccessDenied", denied);
    if (role.externalId !== undefined && params.ExternalId !== role.externalId) {
      throw new StsError(403, "AccessDenied", denied);
    }
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      throw new StsError(400, "ValidationError", "RoleSessionName is invalid");
    }
    const duration = Number(params.DurationSeconds ?? "3600");
    // Role chaining (a role's session assuming another role) is limited to an hour.
    if (!Number.isInteger(duration) || duration < 900 || duration > 3600) {
      throw new StsError(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
      );
    }
    const session: IssuedSession = {
      roleArn,
      sessionName,
      accessKeyId: `ASIA${randomBytes(8).toString("hex").toUpperCase()}`,
      secretAccessKey: randomBytes(20).toString("base64"),
      sessionToken: randomBytes(32).toString("base64"),
      expiration: new Date(now().getTime() + duration * 1000),
    };
    issued.push(session);
    secrets.set(session.accessKeyId, {
      roleArn,
      secretAccessKey: session.secretAccessKey,
      sessionToken: session.sessionToken,
      expiration: session.expiration,
    });
    const account = /^arn:[^:]+:iam::(\d{12}):role\//.exec(roleArn)?.[1] ?? "000000000000";
    const roleName = roleArn.slice(roleArn.lastIndexOf("/") + 1);
    return `<Credentials><AccessKeyId>${session.accessKeyId}</AccessKeyId><SecretAccessKey>${escapeXml(
      session.secretAccessKey,
    )}</SecretAccessKey><SessionToken>${escapeXml(session.sessionToken)}</SessionToken><Expiration>${session.expiration
      .toISOString()
      .replace(
        /\.\d{3}Z$/,
        "Z",
      )}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::${account}:assumed-role/${escapeXml(
      roleName,
    )}/${escapeXml(sessionName)}</Arn><AssumedRoleId>AROA${randomBytes(8).toString("hex").toUpperCase()}:${escapeXml(
      sessionName,
    )}</AssumedRoleId></AssumedRoleUser>`;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    let params: Record<string, string> = {};
    let from: Secret | undefined;
    const answer = (status: number, xml: string) => {
      calls.push({ action: params.Action ?? "", params, ...(from ? { caller: from.roleArn } : {}), status });
      response.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": requestId });
      response.end(xml);
    };
    try {
      const body = await readRequestBody(request, MAX_BODY_BYTES);
      params = Object.fromEntries(new URLSearchParams(body));
      from = await caller(request, body);
      if (params.Action !== "AssumeRole") {
        throw new StsError(400, "InvalidAction", `unsupported action ${params.Action ?? ""}`);
      }
      const result = assumeRole(params, from);
      answer(
        200,
        `<AssumeRoleResponse xmlns="${XMLNS}"><AssumeRoleResult>${result}</AssumeRoleResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
    } catch (error) {
      if (error instanceof StsError) answer(error.status, errorXml(error.code, error.message, requestId));
      else answer(500, errorXml("InternalFailure", String(error), requestId));
    }
  }

  /** Synchronous by design for the Kubernetes peer's token check: the signature is recomputed with node:crypto. */
  function authenticate(token: string | undefined, cluster: string) {
    if (token === undefined || !token.startsWith(TOKEN_PREFIX)) {
      return { ok: false as const, reason: "not an EKS token" };
    }
    let url: URL;
    try {
      url = new URL(Buffer.from(token.slice(TOKEN_PREFIX.length), "base64url").toString("utf8"));
    } catch {
      return { ok: false as const, reason: "not a presigned URL" };
    }
    const query = url.searchParams;
    if (query.get("Action") !== "GetCallerIdentity")
      return { ok: false as const, reason: "not GetCallerIdentity" };
    const credential = (query.get("X-Amz-Credential") ?? "").split("/");
    const [accessKeyId = "", day = "", region = "", service = ""] = credential;
    const secret = secrets.get(accessKeyId);
    if (!live(secret)) return { ok: false as const, reason: `unknown or expired access key ${accessKeyId}` };
    if (service !== "sts") return { ok: false as const, reason: "not signed for sts" };
    const signedHeaders = (query.get("X-Amz-SignedHeaders") ?? "").split(";");
    if (!signedHeaders.includes("x-k8s-aws-id"))
      return { ok: false as const, reason: "cluster id not signed" };
    const signedAt = amzDate(query.get("X-Amz-Date") ?? "");
    if (
      !(signedAt.getTime() > now().getTime() - TOKEN_VALIDITY_MS) ||
      !(query.get("X-Amz-Date") ?? "").startsWith(day)
    ) {
      return { ok: false as const, reason: "token expired" };
    }
    if ((secret.sessionToken ?? "") !== (query.get("X-Amz-Security-Token") ?? "")) {
      return { ok: false as const, reason: "session token does not belong to the access key" };
    }
    const verdict = verifyPresigned(url, secret, region, cluster);
    return verdict === undefined
      ? { ok: true as const, roleArn: secret.roleArn, accessKeyId }
      : { ok: false as const, reason: verdict };
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const listener = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    calls,
    issued,
    addPrincipal(principal) {
      secrets.set(principal.accessKeyId, {
        roleArn: principal.roleArn,
        secretAccessKey: principal.secretAccessKey,
        sessionToken: principal.sessionToken,
      });
    },
    addRole(role) {
      roles.set(role.arn, role);
    },
    authenticate,
    stop: () => listener.close(),
  };
}

/**
 * Recomputes a presigned GetCallerIdentity URL's signature (SigV4 query signing, by hand so that the check
 * stays synchronous): undefined when it matches, else why not.
 */
function verifyPresigned(url: URL, secret: Secret, region: string, cluster: string): string | undefined {
  const query = url.searchParams;
  const signature = query.get("X-Amz-Signature") ?? "";
  const signedHeaders = (query.get("X-Amz-SignedHeaders") ?? "").split(";").sort();
  const headerValues: Record<string, string> = { host: url.host, "x-k8s-aws-id": cluster };
  if (signedHeaders.some((name) => headerValues[name] === undefined))
    return "signs a header it does not carry";
  const canonicalQuery = [...query.entries()]
    .filter(([name]) => name !== "X-Amz-Signature")
    .map(([name, value]) => [encode(name), encode(value)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const canonicalRequest = [
    "GET",
    url.pathname || "/",
    canonicalQuery,
    signedHeaders.map((name) => `${name}:${headerValues[name]}\n`).join(""),
    signedHeaders.join(";"),
    createHash("sha256").update("").digest("hex"),
  ].join("\n");
  const date = (query.get("X-Amz-Date") ?? "").slice(0, 8);
  const scope = `${date}/${region}/sts/aws4_request`;
  const toSign = [
    "AWS4-HMAC-SHA256",
    query.get("X-Amz-Date") ?? "",
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${secret.secretAccessKey}`).update(date).digest();
  for (const part of [region, "sts", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  const expected = createHmac("sha256", key).update(toSign).digest("hex");
  return expected === signature
    ? undefined
    : "signature does not match (signed for another cluster, or forged)";
}

/** RFC 3986 encoding as SigV4 wants it. */
function encode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

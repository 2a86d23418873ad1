import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export type CredentialSource = () => Promise<AwsCredentials>;

export const TOKEN_PREFIX = "k8s-aws-v1.";
/** The API server accepts a token for 15 minutes after X-Amz-Date; renew with a minute to spare. */
export const TOKEN_REUSE_MS = 14 * 60 * 1000;
/** Sent as aws-iam-authenticator does; the server applies its own 15-minute validity regardless. */
const PRESIGN_EXPIRES_SECONDS = 60;

export class TokenError extends Error {
  constructor(
    message: string,
    readonly cluster: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TokenError";
  }
}

export interface EksTokenOptions {
  region: string;
  credentials: CredentialSource;
  /** Injected for tests; defaults to the wall clock. */
  now?: () => Date;
}

function base64UrlNoPadding(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

function formatUrl(request: HttpRequest): string {
  const query = Object.entries(request.query)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`)
    .join("&");
  return `${request.protocol}//${request.hostname}${request.path}?${query}`;
}

interface CachedToken {
  token: string;
  issuedAt: number;
}

/**
 * Builds the bearer token EKS accepts: `k8s-aws-v1.` + base64url(presigned STS GetCallerIdentity URL whose
 * signature covers `x-k8s-aws-id: <cluster>`). Presigning is local: no STS call and no sts:* permission.
 * Tokens are cached per cluster and renewed after 14 minutes, or on demand after a 401.
 */
export class EksTokenProvider {
  private readonly cache = new Map<string, CachedToken>();
  private readonly now: () => Date;
  private readonly signer: SignatureV4;
  private readonly host: string;

  constructor(options: EksTokenOptions) {
    this.now = options.now ?? (() => new Date());
    this.host = `sts.${options.region}.amazonaws.com`;
    this.signer = new SignatureV4({
      service: "sts",
      region: options.region,
      credentials: options.credentials,
      sha256: Hash.bind(null, "sha256"),
    });
  }

  async token(cluster: string): Promise<string> {
    const cached = this.cache.get(cluster);
    const now = this.now();
    if (cached && now.getTime() - cached.issuedAt < TOKEN_REUSE_MS && now.getTime() >= cached.issuedAt) {
      return cached.token;
    }
    const token = await this.build(cluster, now);
    this.cache.set(cluster, { token, issuedAt: now.getTime() });
    return token;
  }

  /** Forget a cluster's token, e.g. after the API server answered 401 to it. */
  invalidate(cluster: string): void {
    this.cache.delete(cluster);
  }

  private async build(cluster: string, signingDate: Date): Promise<string> {
    const request = new HttpRequest({
      method: "GET",
      protocol: "https:",
      hostname: this.host,
      path: "/",
      query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
      headers: { host: this.host, "x-k8s-aws-id": cluster },
    });
    try {
      const presigned = await this.signer.presign(request, {
        expiresIn: PRESIGN_EXPIRES_SECONDS,
        signingDate,
      });
      return TOKEN_PREFIX + base64UrlNoPadding(formatUrl(presigned as HttpRequest));
    } catch (error) {
      throw new TokenError(`could not presign the EKS token for cluster ${cluster}`, cluster, {
        cause: error,
      });
    }
  }
}

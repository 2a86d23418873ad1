import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  ServerConfiguration,
  type V1Pod,
} from "@kubernetes/client-node";
import type { DeleteResult } from "../../core/remediation/delete-result.ts";
import type { LivePod } from "../../core/remediation/guard-rails.ts";
import type { ClusterInfo } from "../aws/eks-cluster-info.ts";
import { httpLibraryWithTimeout } from "./kubernetes-http.ts";

export interface RetryPolicy {
  /** Total attempts per call, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per-request timeout. */
  timeoutMs: number;
}

/** Worst case per call: 4 × 5 s plus under 2 s of backoff, so a GET and a DELETE fit in the 90 s timeout. */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  timeoutMs: 5_000,
};

export interface TokenSource {
  token(cluster: string): Promise<string>;
  invalidate(cluster: string): void;
}

export interface KubernetesPodsOptions {
  cluster: ClusterInfo;
  tokens: TokenSource;
  retry?: Partial<RetryPolicy>;
  /** Injected for tests so backoff does not slow them down; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Each attempt that failed and will be retried, for logs. */
  onRetry?: (event: { operation: string; attempt: number; delayMs: number; error: string }) => void;
}

export type GetPodResult =
  | { kind: "found"; pod: LivePod }
  | Exclude<DeleteResult, { kind: "accepted" | "replaced" }>;

type CallOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; result: Exclude<DeleteResult, { kind: "accepted" }>; afterUncertainAttempt: boolean };

export interface DeleteRequest {
  namespace: string;
  name: string;
  uid: string;
  gracePeriodSeconds: number;
  dryRun: boolean;
}

/** An answer worth waiting for: throttling, server trouble, or no answer at all. */
function isRetryableStatus(code: number): boolean {
  return code === 429 || code >= 500;
}

/** Network errors worth retrying. TLS verification failures are deliberately absent: retrying will not fix a CA. */
const TRANSIENT_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "REQUEST_TIMEOUT",
  "UND_ERR_SOCKET",
]);

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_SIGNATURE_FAILURE",
]);

function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

function describe(error: unknown): string {
  if (error instanceof ApiException) return `HTTP ${error.code}: ${statusMessage(error)}`;
  const code = errorCode(error);
  if (code !== undefined && TLS_CODES.has(code)) {
    return `TLS verification against the cluster CA from DescribeCluster failed (${code}); the connection was refused`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined ? message : `${message} (${code})`;
}

/** The `message` of a Kubernetes Status body, whatever shape the client handed it over in. */
function statusMessage(error: ApiException<unknown>): string {
  let body: unknown = error.body;
  if (typeof body === "string") {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return text.slice(0, 300);
    }
  }
  if (typeof body === "object" && body !== null && "message" in body) {
    return String((body as { message: unknown }).message);
  }
  return error.code === 401 ? "Unauthorized" : `status ${error.code}`;
}

function retryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const seconds = Number(error.headers?.["retry-after"]);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function isRetryable(error: unknown): boolean {
  if (error instanceof ApiException) return isRetryableStatus(error.code);
  const code = errorCode(error);
  return code !== undefined && TRANSIENT_NETWORK_CODES.has(code);
}

const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

/** The facts remediation decides from, read from the pod the API server returned. */
export function livePod(pod: V1Pod): LivePod {
  const controllerRef =
    pod.metadata?.ownerReferences?.find((ref) => ref.controller === true) ??
    pod.metadata?.ownerReferences?.[0];
  return {
    uid: pod.metadata?.uid ?? "",
    owner: controllerRef
      ? {
          kind: controllerRef.kind,
          name: controllerRef.name,
          uid: controllerRef.uid,
          controller: controllerRef.controller ?? false,
        }
      : undefined,
    static: pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined || controllerRef?.kind === "Node",
    ephemeralContainers: (pod.spec?.ephemeralContainers ?? []).map((container) => ({
      name: container.name,
      image: container.image,
      targetContainerName: container.targetContainerName,
    })),
    beingDeleted: pod.metadata?.deletionTimestamp !== undefined,
  };
}

/**
 * GET and DELETE of pods on one cluster through @kubernetes/client-node, trusting only the cluster's CA.
 * Retries 429/5xx/timeouts with capped exponential backoff; renews the token once on 401.
 */
export class KubernetesPods {
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: KubernetesPodsOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async getPod(namespace: string, name: string): Promise<GetPodResult> {
    const outcome = await this.call(`get pod ${namespace}/${name}`, (api) =>
      api.readNamespacedPod({ namespace, name }),
    );
    if (outcome.ok) return { kind: "found", pod: livePod(outcome.value) };
    const result = outcome.result;
    return result.kind === "replaced" ? { kind: "error", message: result.message } : result;
  }

  async deletePod(request: DeleteRequest): Promise<DeleteResult> {
    const { namespace, name, uid, gracePeriodSeconds, dryRun } = request;
    const outcome = await this.call(`delete pod ${namespace}/${name}`, (api) =>
      api.deleteNamespacedPod({
        namespace,
        name,
        gracePeriodSeconds,
        ...(dryRun ? { dryRun: "All" } : {}),
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          gracePeriodSeconds,
          preconditions: { uid },
          ...(dryRun ? { dryRun: ["All"] } : {}),
        },
      }),
    );
    if (outcome.ok) return { kind: "accepted" };
    const { result } = outcome;
    // A timed-out or 5xx attempt may have deleted the pod before the retry found it gone or replaced.
    if ((result.kind === "gone" || result.kind === "replaced") && outcome.afterUncertainAttempt && !dryRun) {
      return { ...result, afterUncertainAttempt: true };
    }
    return result;
  }

  private api(token: string): CoreV1Api {
    const { cluster } = this.options;
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [
        {
          name: cluster.name,
          server: cluster.endpoint,
          caData: cluster.certificateAuthorityData,
          skipTLSVerify: false,
        },
      ],
      users: [{ name: "ephemeral-guard-remediator", token }],
      contexts: [{ name: cluster.name, cluster: cluster.name, user: "ephemeral-guard-remediator" }],
      currentContext: cluster.name,
    });
    // Not makeApiClient: the client ignores a per-call httpApi, so the timeout must be in the configuration.
    return new CoreV1Api(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.endpoint, {}),
        authMethods: { default: config },
        httpApi: httpLibraryWithTimeout(this.retry.timeoutMs),
      }),
    );
  }

  private async call<T>(operation: string, send: (api: CoreV1Api) => Promise<T>): Promise<CallOutcome<T>> {
    const clusterName = this.options.cluster.name;
    let renewedToken = false;
    let lastError: unknown;
    // Set once an attempt may have reached the server without us seeing its answer.
    let uncertain = false;
    for (let attempt = 1; attempt <= this.retry.attempts; attempt++) {
      try {
        const token = await this.options.tokens.token(clusterName);
        return { ok: true, value: await send(this.api(token)) };
      } catch (error) {
        lastError = error;
        if (error instanceof ApiException) {
          if (error.code === 401 && !renewedToken) {
            // A token can be refused before our 14-minute renewal (clock skew, revoked session): renew once.
            renewedToken = true;
            this.options.tokens.invalidate(clusterName);
            this.options.onRetry?.({ operation, attempt, delayMs: 0, error: describe(error) });
            continue;
          }
          const terminal = this.terminal(error);
          if (terminal !== undefined)
            return { ok: false, result: terminal, afterUncertainAttempt: uncertain };
        }
        if (!isRetryable(error) || attempt === this.retry.attempts) break;
        uncertain = true;
        const delayMs = this.backoff(attempt, retryAfterMs(error));
        this.options.onRetry?.({ operation, attempt, delayMs, error: describe(error) });
        await this.sleep(delayMs);
      }
    }
    return {
      ok: false,
      result: { kind: "error", message: `${operation}: ${describe(lastError)}` },
      afterUncertainAttempt: uncertain,
    };
  }

  private terminal(error: ApiException<unknown>): Exclude<DeleteResult, { kind: "accepted" }> | undefined {
    switch (error.code) {
      case 401:
        return { kind: "unauthenticated", message: statusMessage(error) };
      case 403:
        return { kind: "forbidden", message: statusMessage(error) };
      case 404:
        return { kind: "gone" };
      case 409:
        return { kind: "replaced", message: statusMessage(error) };
      default:
        return isRetryableStatus(error.code) ? undefined : { kind: "error", message: describe(error) };
    }
  }

  /** Exponential with full jitter, capped; a server's Retry-After wins when it asks for longer. */
  private backoff(attempt: number, retryAfter: number | undefined): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    return retryAfter === undefined
      ? jittered
      : Math.min(this.retry.maxDelayMs, Math.max(jittered, retryAfter));
  }
}

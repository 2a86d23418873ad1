import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { EKSClient } from "@aws-sdk/client-eks";
import { createIdempotencyStore, type IdempotencyStore } from "../adapters/aws/act-once.ts";
import { DeletionRateLimit } from "../adapters/aws/deletion-rate-limit.ts";
import { EksClusterInfo } from "../adapters/aws/eks-cluster-info.ts";
import { type CredentialSource, EksTokenProvider } from "../adapters/aws/eks-token.ts";
import { KubernetesPods, type RetryPolicy } from "../adapters/kubernetes/kubernetes-pods.ts";
import type { RemediationPolicy } from "../core/remediation/policy.ts";
import type { RemediationDeps } from "./remediate-finding.ts";
import { REMEDIATION_KEY_PREFIX } from "./remediate-invocation.ts";

export interface WiringOptions {
  policy: RemediationPolicy & { mode: "dry-run" | "enforce" };
  region: string;
  tableName: string;
  eks: EKSClient;
  dynamo: DynamoDBClient;
  /** Whose credentials sign the EKS token: the Lambda role's (the SDK's default chain). */
  credentials: CredentialSource;
  now?: () => Date;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  warn: (message: string, context: Record<string, unknown>) => void;
}

/** Connects the decision code to AWS and the clusters. Built once per Lambda container: caches live here. */
export function wireRemediation(options: WiringOptions): RemediationDeps {
  const now = options.now ?? (() => new Date());
  const clusters = new EksClusterInfo(options.eks);
  const tokens = new EksTokenProvider({ region: options.region, credentials: options.credentials, now });
  const rateLimit = new DeletionRateLimit(options.dynamo, {
    tableName: options.tableName,
    limit: options.policy.rateLimit,
    windowSeconds: options.policy.rateWindowSeconds,
    now,
  });
  return {
    policy: options.policy,
    describeCluster: (name) => clusters.describe(name),
    podsFor: (cluster) =>
      new KubernetesPods({
        cluster,
        tokens,
        ...(options.retry ? { retry: options.retry } : {}),
        ...(options.sleep ? { sleep: options.sleep } : {}),
        onRetry: (event) =>
          options.warn("retrying a Kubernetes API call", { cluster: cluster.name, ...event }),
      }),
    rateLimit,
    now,
    warn: options.warn,
  };
}

/** remediate's idempotency records: the stack's table, under a key prefix of their own. */
export function remediationIdempotency(
  dynamo: DynamoDBClient,
  options: { tableName: string; expiresAfterSeconds: number },
): IdempotencyStore {
  return createIdempotencyStore(dynamo, { ...options, keyPrefix: REMEDIATION_KEY_PREFIX });
}

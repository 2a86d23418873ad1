import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EKSClient } from "@aws-sdk/client-eks";
import { createIdempotencyStore, type IdempotencyStore } from "../adapters/aws/act-once.ts";
import { DeletionRateLimit } from "../adapters/aws/deletion-rate-limit.ts";
import { type ClusterInfo, EksClusterInfo } from "../adapters/aws/eks-cluster-info.ts";
import { type CredentialSource, EksTokenProvider } from "../adapters/aws/eks-token.ts";
import {
  MAX_CACHED_ROLES,
  type MemberRoleCredentials,
  memberRoleArn,
  type TemporaryCredentials,
} from "../adapters/aws/member-role-credentials.ts";
import { KubernetesPods, type RetryPolicy } from "../adapters/kubernetes/kubernetes-pods.ts";
import { AWS_CLIENT_CONFIG } from "../adapters/lambda/aws-clients.ts";
import type { Placement } from "../core/remediation/cluster-placement.ts";
import type { RemediationPolicy } from "../core/remediation/policy.ts";
import type { RemediationDeps } from "./remediate-finding.ts";
import { REMEDIATION_KEY_PREFIX } from "./remediate-invocation.ts";

/** How remediate reaches clusters in other accounts and regions of the organization. */
export interface MemberAccess {
  /** The member roles' credentials (STS AssumeRole, cached). */
  roles: MemberRoleCredentials;
  /**
   * An EKS client for a member's region, signing with the member role's credentials. Defaults to the SDK's
   * standard chain for everything but region and credentials (AWS_ENDPOINT_URL_EKS included).
   */
  eksFor?: (region: string, credentials: () => Promise<TemporaryCredentials>) => EKSClient;
}

export interface WiringOptions {
  policy: RemediationPolicy & { mode: "dry-run" | "enforce" };
  region: string;
  /** The function's own account: findings naming another one (or another region) go through `members`. */
  account?: string | undefined;
  tableName: string;
  eks: EKSClient;
  dynamo: DynamoDBClient;
  /** Whose credentials sign the EKS token in the function's own account: the Lambda role's (the SDK's chain). */
  credentials: CredentialSource;
  /** Absent: a finding about another account or region is skipped (`account-not-configured`). */
  members?: MemberAccess | undefined;
  now?: () => Date;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  warn: (message: string, context: Record<string, unknown>) => void;
}

interface ClusterAccess {
  clusters: EksClusterInfo;
  tokens: EksTokenProvider;
}

function defaultEksFor(region: string, credentials: () => Promise<TemporaryCredentials>): EKSClient {
  return new EKSClient({ ...AWS_CLIENT_CONFIG, region, credentials });
}

/** Connects the decision code to AWS and the clusters. Built once per Lambda container: caches live here. */
export function wireRemediation(options: WiringOptions): RemediationDeps {
  const now = options.now ?? (() => new Date());
  const home: ClusterAccess = {
    clusters: new EksClusterInfo(options.eks),
    tokens: new EksTokenProvider({ region: options.region, credentials: options.credentials, now }),
  };
  // One EKS client and token cache per member account and region, each signing with that member's role.
  const remote = new Map<string, ClusterAccess>();
  const accessFor = (placement: Placement): ClusterAccess => {
    if (placement.kind !== "remote") return home;
    const members = options.members;
    // The guard-rails skip remote clusters when no member access is configured; reaching this is a bug.
    if (members === undefined) throw new Error(`no member access configured for ${placement.arn}`);
    const key = `${placement.partition}:${placement.account}:${placement.region}`;
    const known = remote.get(key);
    if (known) return known;
    const roleArn = memberRoleArn(
      placement.partition,
      placement.account,
      members.roles.roleName,
      placement.region,
    );
    const credentials = () => members.roles.credentials(roleArn);
    const access: ClusterAccess = {
      clusters: new EksClusterInfo((members.eksFor ?? defaultEksFor)(placement.region, credentials)),
      tokens: new EksTokenProvider({ region: placement.region, credentials, now }),
    };
    if (remote.size >= MAX_CACHED_ROLES) {
      const oldest = remote.keys().next().value;
      if (oldest !== undefined) remote.delete(oldest);
    }
    remote.set(key, access);
    return access;
  };
  const rateLimit = new DeletionRateLimit(options.dynamo, {
    tableName: options.tableName,
    limit: options.policy.rateLimit,
    windowSeconds: options.policy.rateWindowSeconds,
    now,
  });
  return {
    policy: options.policy,
    home: { account: options.account, region: options.region },
    reachesMembers: options.members !== undefined,
    describeCluster: (name, placement) => accessFor(placement).clusters.describe(name),
    podsFor: (cluster: ClusterInfo, placement) =>
      new KubernetesPods({
        cluster,
        tokens: accessFor(placement).tokens,
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

import {
  type Cluster,
  DescribeClusterCommand,
  type EKSClient,
  ListClustersCommand,
  type ListClustersCommandOutput,
  ResourceNotFoundException,
} from "@aws-sdk/client-eks";

/**
 * The clusters of the region and what coverage needs of each (status, whether the `audit` log type is enabled,
 * creation time), from EKS ListClusters and DescribeCluster.
 */

/** ListClusters pages at most 100 names; 100 pages is 10,000 clusters, far above EKS's per-region quota. */
const LIST_PAGE_SIZE = 100;
const MAX_LIST_PAGES = 100;

export class EksClusterError extends Error {
  constructor(
    message: string,
    readonly operation: "ListClusters" | "DescribeCluster",
    readonly cluster: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "EksClusterError";
  }
}

export interface ClusterDescription {
  name: string;
  /** EKS status (ACTIVE, UPDATING, …), or NOT_FOUND. */
  status: string;
  auditLogging: boolean;
  /** Epoch ms. */
  createdAt?: number;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Enabled when some entry of `logging.clusterLogging` enables `audit` and none disables it. */
export function auditLoggingEnabled(cluster: Cluster | undefined): boolean {
  const entries = cluster?.logging?.clusterLogging ?? [];
  const mentions = entries.filter((entry) => entry.types?.includes("audit"));
  return (
    mentions.some((entry) => entry.enabled === true) && !mentions.some((entry) => entry.enabled === false)
  );
}

export class EksClusters {
  constructor(private readonly eks: EKSClient) {}

  /** Every cluster name of the region, every page. Throws EksClusterError when a page fails or never ends. */
  async list(): Promise<string[]> {
    const names: string[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      let output: ListClustersCommandOutput;
      try {
        output = await this.eks.send(new ListClustersCommand({ maxResults: LIST_PAGE_SIZE, nextToken }));
      } catch (error) {
        throw new EksClusterError(
          `EKS ListClusters failed: ${describeError(error)}`,
          "ListClusters",
          undefined,
          {
            cause: error,
          },
        );
      }
      names.push(...(output.clusters ?? []));
      nextToken = output.nextToken;
      if (!nextToken) return [...new Set(names)];
    }
    throw new EksClusterError(
      `EKS ListClusters still had more after ${MAX_LIST_PAGES} pages`,
      "ListClusters",
      undefined,
    );
  }

  /** The cluster's status and logging; NOT_FOUND when EKS says it does not exist. Throws on any other error. */
  async describe(name: string): Promise<ClusterDescription> {
    try {
      const output = await this.eks.send(new DescribeClusterCommand({ name }));
      const cluster = output.cluster;
      return {
        name,
        status: cluster?.status ?? "UNKNOWN",
        auditLogging: auditLoggingEnabled(cluster),
        ...(cluster?.createdAt instanceof Date ? { createdAt: cluster.createdAt.getTime() } : {}),
      };
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        return { name, status: "NOT_FOUND", auditLogging: false };
      }
      throw new EksClusterError(
        `EKS DescribeCluster ${name} failed: ${describeError(error)}`,
        "DescribeCluster",
        name,
        {
          cause: error,
        },
      );
    }
  }
}

import {
  DescribeClusterCommand,
  type DescribeClusterCommandOutput,
  type EKSClient,
} from "@aws-sdk/client-eks";

export interface ClusterInfo {
  name: string;
  /** The API server URL, e.g. https://ABC.gr7.eu-west-1.eks.amazonaws.com */
  endpoint: string;
  /** Base64 of the PEM bundle the API server's certificate chains to. */
  certificateAuthorityData: string;
}

export class ClusterInfoError extends Error {
  constructor(
    message: string,
    readonly cluster: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ClusterInfoError";
  }
}

/**
 * Endpoint and CA of each cluster from EKS DescribeCluster, cached for the life of the Lambda container
 * (they change only when a cluster is recreated). Failures are not cached, so the next finding retries.
 */
export class EksClusterInfo {
  private readonly cache = new Map<string, Promise<ClusterInfo>>();

  constructor(private readonly eks: EKSClient) {}

  describe(name: string): Promise<ClusterInfo> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const pending = this.fetch(name);
    this.cache.set(name, pending);
    pending.catch(() => this.cache.delete(name));
    return pending;
  }

  private async fetch(name: string): Promise<ClusterInfo> {
    let output: DescribeClusterCommandOutput;
    try {
      output = await this.eks.send(new DescribeClusterCommand({ name }));
    } catch (error) {
      const code = error instanceof Error ? error.name : "Error";
      throw new ClusterInfoError(
        `EKS DescribeCluster ${name} failed (${code}): ${error instanceof Error ? error.message : String(error)}`,
        name,
        { cause: error },
      );
    }
    const described = output.cluster;
    if (!described?.endpoint || !described.certificateAuthority?.data) {
      throw new ClusterInfoError(
        `EKS DescribeCluster ${name} returned no endpoint or certificate authority (status ${described?.status ?? "unknown"})`,
        name,
      );
    }
    return {
      name,
      endpoint: described.endpoint,
      certificateAuthorityData: described.certificateAuthority.data,
    };
  }
}

import { type EKSClient, ListClustersCommand, type ListClustersCommandOutput } from "@aws-sdk/client-eks";

/** A bound on pages (100 clusters each), so a misbehaving endpoint cannot keep the listing going forever. */
const MAX_PAGES = 1_000;

export class ListClustersError extends Error {
  override name = "ListClustersError";
}

/** Every EKS cluster name in the client's region, through ListClusters' paging. */
export async function listClusterNames(eks: EKSClient, signal?: AbortSignal): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    let output: ListClustersCommandOutput;
    try {
      output = await eks.send(new ListClustersCommand(nextToken ? { nextToken } : {}), {
        abortSignal: signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new ListClustersError(`EKS ListClusters failed: ${detail}`, { cause: error });
    }
    names.push(...(output.clusters ?? []));
    nextToken = output.nextToken;
    if (!nextToken) return names;
  }
  throw new ListClustersError(`EKS ListClusters gave more than ${MAX_PAGES} pages`);
}

import type { Finding } from "../../functions/core/finding.ts";
import type { FakePod } from "../peers/kubernetes-api-server.ts";

/** The pod as the API server holds it, matching the finding (same uid, owner and ephemeral container). */
export function livePodOf(finding: Finding, changes: Partial<FakePod> = {}): FakePod {
  const owner = finding.pod.owner;
  return {
    namespace: finding.pod.namespace,
    name: finding.pod.name,
    uid: finding.pod.uid ?? "uid-from-api",
    ownerReferences: owner
      ? [
          {
            apiVersion: "apps/v1",
            kind: owner.kind,
            name: owner.name,
            uid: owner.uid ?? "",
            controller: true,
          },
        ]
      : [],
    ephemeralContainers: finding.containers.map((container) => ({
      name: container.name,
      ...(container.image === undefined ? {} : { image: container.image }),
      ...(container.targetContainerName === undefined
        ? {}
        : { targetContainerName: container.targetContainerName }),
    })),
    ...changes,
  };
}

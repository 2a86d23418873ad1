import { logged } from "./eks-audit-policy.ts";
import {
  type ClusterModel,
  clusterModel,
  ephemeralWrite,
  type JsonObject,
  PATTERN_REQUESTS,
  paddedEphemeralWrite,
  REQUESTS,
} from "./make-events.ts";
import type { RandomSource } from "./random-source.ts";

/**
 * The two streams the bench reads, as log event messages (audit events as kube-apiserver writes them, logged
 * through EKS's audit policy: bench/eks-audit-policy.ts). The mixes below say what each request is and how often.
 *
 * - unfiltered: a cluster's whole audit log, one request in `ephemeralOneIn` a kubectl debug write;
 * - filtered: what the subscription filter's term pattern `ephemeralcontainers` (infra/subscription-filter.json)
 *   passes: the writes, writes refused by Pod Security, reads of the subresource, objects that name it (a
 *   ClusterRole granting it), and now and then a write padded past the event size limit, cut.
 */

type Make = (model: ClusterModel, random: RandomSource) => JsonObject;

interface Weighted {
  name: string;
  weight: number;
  make: Make;
}

/**
 * Everyday requests of an EKS cluster with a few dozen nodes, by how often they are made (before the policy
 * drops some): node leases every 10 s per node and leader-election leases every 2 s per controller dominate,
 * then reads by controllers and workloads, status reports, token requests, and a few pod changes.
 */
export const EVERYDAY_MIX: readonly Weighted[] = [
  { name: "node lease update (kubelet)", weight: 20, make: REQUESTS.leaseUpdate },
  { name: "leader-election lease update (kube-system)", weight: 16, make: REQUESTS.leaderLeaseUpdate },
  { name: "watch (ResponseStarted or ResponseComplete)", weight: 10, make: REQUESTS.watch },
  { name: "pod get (controller)", weight: 8, make: REQUESTS.podGet },
  { name: "pod list (workload)", weight: 4, make: REQUESTS.podList },
  { name: "ConfigMap get", weight: 6, make: REQUESTS.configMapGet },
  { name: "Secret get", weight: 5, make: REQUESTS.secretGet },
  { name: "core Event create (kubelet)", weight: 12, make: REQUESTS.eventCreate },
  {
    name: "node get (kubelet), endpoints/services watch (kube-proxy)",
    weight: 8,
    make: REQUESTS.unloggedRead,
  },
  { name: "EndpointSlice update", weight: 5, make: REQUESTS.endpointSliceUpdate },
  { name: "pods/status patch (kubelet)", weight: 6, make: REQUESTS.podStatusPatch },
  { name: "nodes/status patch (kubelet)", weight: 3, make: REQUESTS.nodeStatusPatch },
  { name: "serviceaccounts/token create (kubelet)", weight: 4, make: REQUESTS.tokenRequest },
  { name: "TokenReview create", weight: 2, make: REQUESTS.tokenReview },
  { name: "SubjectAccessReview create", weight: 4, make: REQUESTS.subjectAccessReview },
  { name: "pod create (ReplicaSet controller)", weight: 3, make: REQUESTS.podCreate },
  { name: "pod delete (ReplicaSet controller)", weight: 2, make: REQUESTS.podDelete },
  { name: "replicasets/status update", weight: 3, make: REQUESTS.replicaSetStatusUpdate },
];

/** What `ephemeralcontainers` passes, by share (the cut writes come on top, one in CUT_ONE_IN). */
export const PATTERN_MIX: readonly Weighted[] = [
  { name: "kubectl debug write (patch, RequestResponse)", weight: 82, make: PATTERN_REQUESTS.ephemeralWrite },
  { name: "write refused by Pod Security (403)", weight: 8, make: PATTERN_REQUESTS.deniedEphemeralWrite },
  { name: "read of pods/ephemeralcontainers", weight: 6, make: PATTERN_REQUESTS.ephemeralContainersRead },
  {
    name: "ClusterRole update naming pods/ephemeralcontainers",
    weight: 4,
    make: PATTERN_REQUESTS.roleNamingEphemeralContainers,
  },
];

/** One filtered event in this many is a write padded past the event size limit and cut there. */
export const CUT_ONE_IN = 1_000;
/** Where a padded event is cut: CloudWatch Logs' event size limit before 2025 (now 1 MB). */
export const CUT_AT_CHARS = 256 * 1024;

function pick(mix: readonly Weighted[], random: RandomSource): Weighted {
  const total = mix.reduce((sum, entry) => sum + entry.weight, 0);
  let roll = random.int(total);
  for (const entry of mix) {
    if (roll < entry.weight) return entry;
    roll -= entry.weight;
  }
  return mix[0] as Weighted;
}

/** kube-apiserver writes audit JSON with Go's encoding/json, which escapes &, < and > (query strings have &). */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[&<>]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

export type TrafficKind = "unfiltered" | "filtered";

export interface Message {
  text: string;
  /** What the request was (a mix entry's name). */
  kind: string;
  /** A finding is expected from it. */
  write: boolean;
  cut: boolean;
}

/** Log event messages one after another, as logged by EKS (requests its policy drops are not returned). */
export class Traffic {
  private readonly model: ClusterModel;
  private index = 0;

  constructor(
    private readonly kind: TrafficKind,
    private readonly random: RandomSource,
    /** Unfiltered: one logged event in this many is a kubectl debug write. */
    private readonly ephemeralOneIn = 1_000,
  ) {
    this.model = clusterModel(random);
  }

  get clock(): number {
    return this.model.clock;
  }

  next(): Message {
    const index = this.index++;
    if (this.kind === "filtered") {
      if (index % CUT_ONE_IN === CUT_ONE_IN - 1) {
        const text = goJson(paddedEphemeralWrite(this.model, this.random, CUT_AT_CHARS));
        return { text: text.slice(0, CUT_AT_CHARS), kind: "padded write, cut", write: true, cut: true };
      }
      const entry = pick(PATTERN_MIX, this.random);
      const event = logged(entry.make(this.model, this.random));
      if (!event) throw new Error(`the EKS policy drops ${entry.name}`);
      const write =
        entry.make === PATTERN_REQUESTS.ephemeralWrite ||
        entry.make === PATTERN_REQUESTS.deniedEphemeralWrite;
      return { text: goJson(event), kind: entry.name, write, cut: false };
    }
    if (index % this.ephemeralOneIn === this.ephemeralOneIn - 1) {
      const event = logged(ephemeralWrite(this.model, this.random)) as JsonObject;
      return { text: goJson(event), kind: "kubectl debug write", write: true, cut: false };
    }
    for (;;) {
      const entry = pick(EVERYDAY_MIX, this.random);
      const event = logged(entry.make(this.model, this.random));
      if (event) return { text: goJson(event), kind: entry.name, write: false, cut: false };
    }
  }
}

import type { RandomSource } from "./random-source.ts";

/**
 * Audit events shaped like the ones Amazon EKS writes to `/aws/eks/<cluster>/cluster`, built in code so the
 * benchmark needs no fixture files. Each request is built at full detail (both bodies, full objects with
 * managedFields); bench/eks-audit-policy.ts then logs it as EKS's audit policy does (bodies dropped below
 * RequestResponse, some requests not logged at all), and bench/traffic.ts mixes the requests into streams.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const CLUSTER = "prod-eu-west-1";
export const LOG_GROUP = `/aws/eks/${CLUSTER}/cluster`;
const ACCOUNT = "111122223333";
const REGION = "eu-west-1";

interface Workload {
  namespace: string;
  name: string;
  image: string;
  serviceAccount: string;
  replicaSetHash: string;
  podNames: string[];
}

/** The cluster the traffic comes from: nodes and a handful of workloads, fixed per seed. */
export interface ClusterModel {
  nodes: string[];
  workloads: Workload[];
  clock: number;
}

const WORKLOAD_TEMPLATES: ReadonlyArray<Omit<Workload, "replicaSetHash" | "podNames">> = [
  { namespace: "payments", name: "payments-api", image: "payments-api", serviceAccount: "payments-api" },
  { namespace: "payments", name: "ledger-worker", image: "ledger-worker", serviceAccount: "ledger" },
  { namespace: "checkout", name: "checkout-web", image: "checkout-web", serviceAccount: "default" },
  { namespace: "search", name: "search-indexer", image: "indexer", serviceAccount: "search" },
  { namespace: "identity", name: "auth-gateway", image: "auth-gateway", serviceAccount: "auth" },
  {
    namespace: "monitoring",
    name: "prometheus-adapter",
    image: "prometheus-adapter",
    serviceAccount: "adapter",
  },
  { namespace: "kube-system", name: "coredns", image: "coredns", serviceAccount: "coredns" },
  {
    namespace: "ingress",
    name: "ingress-nginx-controller",
    image: "controller",
    serviceAccount: "ingress-nginx",
  },
];

export function clusterModel(random: RandomSource): ClusterModel {
  const nodes = Array.from(
    { length: 24 },
    () => `ip-10-0-${random.int(256)}-${1 + random.int(254)}.${REGION}.compute.internal`,
  );
  const workloads = WORKLOAD_TEMPLATES.map((template) => {
    const replicaSetHash = random.suffix(10);
    return {
      ...template,
      replicaSetHash,
      podNames: Array.from({ length: 6 }, () => `${template.name}-${replicaSetHash}-${random.suffix(5)}`),
    };
  });
  return { nodes, workloads, clock: Date.UTC(2026, 10, 20, 9, 0, 0) };
}

/** Microsecond timestamps as the API server writes them; the clock advances a little per event. */
function timestamps(model: ClusterModel, random: RandomSource): { received: string; stage: string } {
  model.clock += random.int(40);
  const received = new Date(model.clock);
  const micros = random.digits(3);
  const stage = new Date(model.clock + random.int(30));
  return {
    received: received.toISOString().replace("Z", `${micros}Z`),
    stage: stage.toISOString().replace("Z", `${random.digits(3)}Z`),
  };
}

function isoSeconds(model: ClusterModel, offsetMs: number): string {
  return new Date(model.clock - offsetMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

interface Identity {
  user: JsonObject;
  userAgent: string;
  sourceIPs: string[];
}

function nodeIdentity(random: RandomSource, node: string): Identity {
  return {
    user: {
      username: `system:node:${node}`,
      uid: `aws-iam-authenticator:${ACCOUNT}:AROAQ${random.hex(16).toUpperCase()}`,
      groups: ["system:bootstrappers", "system:nodes", "system:authenticated"],
      extra: {
        accessKeyId: [`ASIA${random.hex(16).toUpperCase()}`],
        arn: [`arn:aws:sts::${ACCOUNT}:assumed-role/eks-node-group-role/i-0${random.hex(16)}`],
        canonicalArn: [`arn:aws:iam::${ACCOUNT}:role/eks-node-group-role`],
        principalId: [`AROAQ${random.hex(16).toUpperCase()}`],
        sessionName: [`i-0${random.hex(16)}`],
        "sigs.k8s.io/aws-iam-authenticator/principalId": [`AROAQ${random.hex(16).toUpperCase()}`],
      },
    },
    userAgent: `kubelet/v1.31.4-eks-${random.hex(7)} (linux/amd64) kubernetes/${random.hex(7)}`,
    sourceIPs: [random.privateIp()],
  };
}

function controllerIdentity(random: RandomSource, controller: string): Identity {
  return {
    user: {
      username: `system:serviceaccount:kube-system:${controller}`,
      uid: random.uuid(),
      groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
    },
    userAgent: `kube-controller-manager/v1.31.4 (linux/amd64) kubernetes/${random.hex(7)}/system:serviceaccount:kube-system:${controller}`,
    sourceIPs: ["10.0.128.15"],
  };
}

function workloadIdentity(random: RandomSource, workload: Workload): Identity {
  return {
    user: {
      username: `system:serviceaccount:${workload.namespace}:${workload.serviceAccount}`,
      uid: random.uuid(),
      groups: [
        "system:serviceaccounts",
        `system:serviceaccounts:${workload.namespace}`,
        "system:authenticated",
      ],
      extra: {
        "authentication.kubernetes.io/node-name": [`ip-10-0-${random.int(256)}-${random.int(256)}`],
        "authentication.kubernetes.io/pod-name": [workload.podNames[0] ?? workload.name],
        "authentication.kubernetes.io/pod-uid": [random.uuid()],
        "authentication.kubernetes.io/credential-id": [`JTI=${random.uuid()}`],
      },
    },
    userAgent: `${workload.image}/v0.0.0 (linux/amd64) kubernetes/$Format`,
    sourceIPs: [random.privateIp()],
  };
}

function humanIdentity(random: RandomSource): Identity {
  const session = random.pick(["alice@example.com", "bob@example.com", "oncall-sre", "carol@example.com"]);
  const role = random.pick(["AWSReservedSSO_PlatformAdmin_4f2a9c1b7e3d5a60", "eks-admins", "break-glass"]);
  return {
    user: {
      username: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
      uid: `aws-iam-authenticator:${ACCOUNT}:AROAQ${random.hex(16).toUpperCase()}`,
      groups: ["system:authenticated"],
      extra: {
        accessKeyId: [`ASIA${random.hex(16).toUpperCase()}`],
        arn: [`arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`],
        canonicalArn: [`arn:aws:iam::${ACCOUNT}:role/${role}`],
        principalId: [`AROAQ${random.hex(16).toUpperCase()}`],
        sessionName: [session],
      },
    },
    userAgent: `kubectl/v1.31.${random.int(5)} (darwin/arm64) kubernetes/${random.hex(7)}`,
    sourceIPs: [`203.0.113.${1 + random.int(254)}`],
  };
}

interface EventParts {
  level: "Metadata" | "Request" | "RequestResponse";
  stage?: "ResponseStarted" | "ResponseComplete";
  verb: string;
  requestURI: string;
  identity: Identity;
  objectRef: JsonObject;
  code: number;
  requestObject?: JsonObject;
  responseObject?: JsonObject;
  reason?: string;
}

function auditEvent(model: ClusterModel, random: RandomSource, parts: EventParts): JsonObject {
  const time = timestamps(model, random);
  const event: JsonObject = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: parts.level,
    auditID: random.uuid(),
    stage: parts.stage ?? "ResponseComplete",
    requestURI: parts.requestURI,
    verb: parts.verb,
    user: parts.identity.user,
    sourceIPs: parts.identity.sourceIPs,
    userAgent: parts.identity.userAgent,
    objectRef: parts.objectRef,
    responseStatus: { metadata: {}, code: parts.code },
  };
  if (parts.requestObject) event.requestObject = parts.requestObject;
  if (parts.responseObject) event.responseObject = parts.responseObject;
  event.requestReceivedTimestamp = time.received;
  event.stageTimestamp = time.stage;
  event.annotations = {
    "authorization.k8s.io/decision": "allow",
    "authorization.k8s.io/reason": parts.reason ?? "",
  };
  return event;
}

function managedField(manager: string, operation: string, time: string, fields: JsonObject): JsonObject {
  return {
    manager,
    operation,
    apiVersion: "v1",
    time,
    fieldsType: "FieldsV1",
    fieldsV1: fields,
  };
}

function containerSpec(random: RandomSource, workload: Workload, index: number): JsonObject {
  return {
    name: index === 0 ? "app" : `sidecar-${index}`,
    image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${workload.image}:v${random.int(9)}.${random.int(40)}.${random.int(9)}`,
    ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
    env: [
      { name: "AWS_REGION", value: REGION },
      { name: "LOG_LEVEL", value: "info" },
      {
        name: "DATABASE_PASSWORD",
        valueFrom: { secretKeyRef: { name: `${workload.name}-db`, key: "password" } },
      },
      { name: "POD_IP", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "status.podIP" } } },
    ],
    resources: { limits: { memory: "512Mi" }, requests: { cpu: "250m", memory: "256Mi" } },
    volumeMounts: [
      {
        name: `kube-api-access-${random.suffix(5)}`,
        readOnly: true,
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
      },
    ],
    livenessProbe: {
      httpGet: { path: "/healthz", port: 8080, scheme: "HTTP" },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    },
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    imagePullPolicy: "IfNotPresent",
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true },
  };
}

/** A running Deployment pod as the API server returns it, optionally with ephemeral containers. */
function pod(
  model: ClusterModel,
  random: RandomSource,
  workload: Workload,
  name: string,
  ephemeral: JsonObject[] = [],
): JsonObject {
  const node = random.pick(model.nodes);
  const created = isoSeconds(model, 3_600_000 + random.int(86_400_000));
  const containers = [containerSpec(random, workload, 0), containerSpec(random, workload, 1)];
  const spec: JsonObject = {
    volumes: [
      {
        name: `kube-api-access-${random.suffix(5)}`,
        projected: {
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
            { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            {
              downwardAPI: {
                items: [
                  { path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
                ],
              },
            },
          ],
          defaultMode: 420,
        },
      },
    ],
    containers,
    restartPolicy: "Always",
    terminationGracePeriodSeconds: 30,
    dnsPolicy: "ClusterFirst",
    serviceAccountName: workload.serviceAccount,
    serviceAccount: workload.serviceAccount,
    nodeName: node,
    securityContext: { fsGroup: 65534 },
    schedulerName: "default-scheduler",
    tolerations: [
      {
        key: "node.kubernetes.io/not-ready",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      },
      {
        key: "node.kubernetes.io/unreachable",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      },
    ],
    priority: 0,
    enableServiceLinks: true,
    preemptionPolicy: "PreemptLowerPriority",
  };
  if (ephemeral.length > 0) spec.ephemeralContainers = ephemeral;
  const status: JsonObject = {
    phase: "Running",
    conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map(
      (type) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: created }),
    ),
    hostIP: random.privateIp(),
    podIP: random.privateIp(),
    startTime: created,
    containerStatuses: containers.map((container) => ({
      name: container.name ?? "app",
      state: { running: { startedAt: created } },
      lastState: {},
      ready: true,
      restartCount: random.int(3),
      image: container.image ?? "",
      imageID: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${workload.image}@sha256:${random.hex(64)}`,
      containerID: `containerd://${random.hex(64)}`,
      started: true,
    })),
    qosClass: "Burstable",
  };
  if (ephemeral.length > 1) {
    status.ephemeralContainerStatuses = ephemeral.slice(0, -1).map((container) => ({
      name: container.name ?? "debugger",
      state: { running: { startedAt: created } },
      lastState: {},
      ready: false,
      restartCount: 0,
      image: container.image ?? "",
      imageID: `docker.io/library/busybox@sha256:${random.hex(64)}`,
      containerID: `containerd://${random.hex(64)}`,
    }));
  }
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name,
      generateName: `${workload.name}-${workload.replicaSetHash}-`,
      namespace: workload.namespace,
      uid: random.uuid(),
      resourceVersion: random.digits(8),
      creationTimestamp: created,
      labels: { app: workload.name, "pod-template-hash": workload.replicaSetHash },
      annotations: { "kubectl.kubernetes.io/restartedAt": created },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: `${workload.name}-${workload.replicaSetHash}`,
          uid: random.uuid(),
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        managedField("kube-controller-manager", "Update", created, {
          "f:metadata": {
            "f:generateName": {},
            "f:labels": { ".": {}, "f:app": {}, "f:pod-template-hash": {} },
            "f:ownerReferences": { ".": {}, [`k:{"uid":"${random.uuid()}"}`]: {} },
          },
          "f:spec": {
            "f:containers": { 'k:{"name":"app"}': { ".": {}, "f:env": {}, "f:image": {}, "f:ports": {} } },
            "f:dnsPolicy": {},
            "f:enableServiceLinks": {},
            "f:restartPolicy": {},
            "f:schedulerName": {},
            "f:securityContext": {},
            "f:terminationGracePeriodSeconds": {},
          },
        }),
        managedField("kubelet", "Update", created, {
          "f:status": {
            "f:conditions": { 'k:{"type":"Ready"}': { ".": {}, "f:lastProbeTime": {}, "f:status": {} } },
            "f:containerStatuses": {},
            "f:hostIP": {},
            "f:phase": {},
            "f:podIP": {},
            "f:startTime": {},
          },
        }),
      ],
    },
    spec,
    status,
  };
}

function podRef(workload: Workload, name: string, extra: JsonObject = {}): JsonObject {
  return { resource: "pods", namespace: workload.namespace, name, apiVersion: "v1", ...extra };
}

const EKS_ADMIN_REASON =
  'EKS Access Policy: allowed by ClusterRoleBinding "arn:aws:iam::111122223333:role/eks-admins+arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" of ClusterRole "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" to User "eks-admins"';

const DEBUG_SECURITY_CONTEXTS: readonly (JsonObject | undefined)[] = [
  undefined,
  { capabilities: { add: ["SYS_PTRACE"] } },
  { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
  { privileged: true },
];

/**
 * `kubectl debug -it --target app` as EKS logs it: a strategic merge patch on pods/ephemeralcontainers at
 * RequestResponse level, with the whole pod (now carrying the debug container) as the response.
 */
export function ephemeralWrite(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const name = random.pick(workload.podNames);
  const debugger_: JsonObject = {
    image: random.pick(["busybox", "nicolaka/netshoot", "ubuntu:24.04"]),
    name: `debugger-${random.suffix(5)}`,
    resources: {},
    stdin: true,
    targetContainerName: "app",
    terminationMessagePolicy: "File",
    tty: true,
  };
  const securityContext = DEBUG_SECURITY_CONTEXTS[random.int(DEBUG_SECURITY_CONTEXTS.length)];
  if (securityContext) debugger_.securityContext = securityContext;
  const previous: JsonObject[] =
    random.int(4) === 0 ? [{ ...debugger_, name: `debugger-${random.suffix(5)}` }] : [];
  const patchSpec: JsonObject = { ephemeralContainers: [debugger_] };
  if (previous.length > 0) {
    patchSpec["$setElementOrder/ephemeralContainers"] = [...previous, debugger_].map((c) => ({
      name: c.name ?? "",
    }));
  }
  const responsePod = pod(model, random, workload, name, [
    ...previous,
    { ...debugger_, terminationMessagePath: "/dev/termination-log", imagePullPolicy: "Always" },
  ]);
  const event = auditEvent(model, random, {
    level: "RequestResponse",
    verb: "patch",
    requestURI: `/api/v1/namespaces/${workload.namespace}/pods/${name}/ephemeralcontainers`,
    identity: humanIdentity(random),
    objectRef: podRef(workload, name, { subresource: "ephemeralcontainers" }),
    code: 200,
    requestObject: { spec: patchSpec },
    responseObject: responsePod,
    reason: EKS_ADMIN_REASON,
  });
  event.annotations = {
    ...(event.annotations as JsonObject),
    "pod-security.kubernetes.io/enforce-policy": "privileged:latest",
  };
  return event;
}

/** kubelet renewing its node lease in kube-node-lease every 10 s: the most common write in any cluster. */
function leaseUpdate(model: ClusterModel, random: RandomSource): JsonObject {
  const node = random.pick(model.nodes);
  const renewTime = new Date(model.clock).toISOString().replace("Z", `${random.digits(3)}Z`);
  const lease = (resourceVersion: string): JsonObject => ({
    kind: "Lease",
    apiVersion: "coordination.k8s.io/v1",
    metadata: {
      name: node,
      namespace: "kube-node-lease",
      uid: random.uuid(),
      resourceVersion,
      creationTimestamp: isoSeconds(model, 8_640_000),
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node, uid: random.uuid() }],
      managedFields: [
        managedField("kubelet", "Update", `${renewTime.slice(0, 19)}Z`, {
          "f:metadata": { "f:ownerReferences": { ".": {}, [`k:{"uid":"${random.uuid()}"}`]: {} } },
          "f:spec": { "f:holderIdentity": {}, "f:leaseDurationSeconds": {}, "f:renewTime": {} },
        }),
      ],
    },
    spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime },
  });
  const resourceVersion = random.digits(8);
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "update",
    requestURI: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}?timeout=10s`,
    identity: nodeIdentity(random, node),
    objectRef: {
      resource: "leases",
      namespace: "kube-node-lease",
      name: node,
      uid: random.uuid(),
      apiGroup: "coordination.k8s.io",
      apiVersion: "v1",
      resourceVersion,
    },
    code: 200,
    requestObject: lease(resourceVersion),
    responseObject: lease(random.digits(8)),
  });
}

function podGet(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const name = random.pick(workload.podNames);
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "get",
    requestURI: `/api/v1/namespaces/${workload.namespace}/pods/${name}`,
    identity: controllerIdentity(random, "replicaset-controller"),
    objectRef: podRef(workload, name),
    code: 200,
    responseObject: pod(model, random, workload, name),
    reason: 'RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller"',
  });
}

function podList(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const items = workload.podNames.slice(0, 2).map((name) => pod(model, random, workload, name));
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "list",
    requestURI: `/api/v1/namespaces/${workload.namespace}/pods?labelSelector=app%3D${workload.name}&limit=500`,
    identity: workloadIdentity(random, random.pick(model.workloads)),
    objectRef: { resource: "pods", namespace: workload.namespace, apiVersion: "v1" },
    code: 200,
    responseObject: {
      kind: "PodList",
      apiVersion: "v1",
      metadata: { resourceVersion: random.digits(8) },
      items,
    },
    reason: `RBAC: allowed by RoleBinding "pod-reader/${workload.namespace}"`,
  });
}

function watch(model: ClusterModel, random: RandomSource): JsonObject {
  const resource = random.pick(["configmaps", "secrets", "services", "endpoints", "nodes"]);
  const node = random.pick(model.nodes);
  return auditEvent(model, random, {
    level: "Metadata",
    stage: random.int(2) === 0 ? "ResponseStarted" : "ResponseComplete",
    verb: "watch",
    requestURI: `/api/v1/${resource}?allowWatchBookmarks=true&resourceVersion=${random.digits(8)}&timeout=${5 + random.int(5)}m${random.int(60)}s&timeoutSeconds=${300 + random.int(300)}&watch=true`,
    identity: nodeIdentity(random, node),
    objectRef: { resource, apiVersion: "v1" },
    code: 200,
    reason: "",
  });
}

/** EKS's policy logs Secret and ConfigMap access at Metadata level: no bodies. */
function configGet(
  model: ClusterModel,
  random: RandomSource,
  resource: "configmaps" | "secrets",
): JsonObject {
  const workload = random.pick(model.workloads);
  const name = resource === "secrets" ? `${workload.name}-db` : `${workload.name}-config`;
  return auditEvent(model, random, {
    level: "Metadata",
    verb: "get",
    requestURI: `/api/v1/namespaces/${workload.namespace}/${resource}/${name}`,
    identity: workloadIdentity(random, workload),
    objectRef: { resource, namespace: workload.namespace, name, apiVersion: "v1" },
    code: random.int(20) === 0 ? 404 : 200,
    reason: `RBAC: allowed by RoleBinding "${workload.name}/${workload.namespace}" of Role "${workload.name}" to ServiceAccount "${workload.serviceAccount}/${workload.namespace}"`,
  });
}

function eventCreate(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const podName = random.pick(workload.podNames);
  const node = random.pick(model.nodes);
  const name = `${podName}.${random.hex(16)}`;
  const body = (withMeta: boolean): JsonObject => {
    const metadata: JsonObject = { name, namespace: workload.namespace, creationTimestamp: null };
    if (withMeta) {
      metadata.uid = random.uuid();
      metadata.resourceVersion = random.digits(8);
      metadata.creationTimestamp = isoSeconds(model, 0);
      metadata.managedFields = [
        managedField("kubelet", "Update", isoSeconds(model, 0), {
          "f:count": {},
          "f:firstTimestamp": {},
          "f:involvedObject": {},
          "f:lastTimestamp": {},
          "f:message": {},
          "f:reason": {},
          "f:source": { "f:component": {}, "f:host": {} },
          "f:type": {},
        }),
      ];
    }
    return {
      kind: "Event",
      apiVersion: "v1",
      metadata,
      involvedObject: {
        kind: "Pod",
        namespace: workload.namespace,
        name: podName,
        uid: random.uuid(),
        apiVersion: "v1",
        resourceVersion: random.digits(8),
        fieldPath: "spec.containers{app}",
      },
      reason: random.pick(["Unhealthy", "Pulled", "Created", "Started", "BackOff"]),
      message: random.pick([
        `Readiness probe failed: Get "http://${random.privateIp()}:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
        `Container image "${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${workload.image}:v1.${random.int(40)}.0" already present on machine`,
        "Back-off restarting failed container app in pod",
      ]),
      source: { component: "kubelet", host: node },
      firstTimestamp: isoSeconds(model, random.int(600_000)),
      lastTimestamp: isoSeconds(model, 0),
      count: 1 + random.int(30),
      type: random.pick(["Normal", "Warning"]),
      eventTime: null,
      reportingComponent: "kubelet",
      reportingInstance: node,
    };
  };
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "create",
    requestURI: `/api/v1/namespaces/${workload.namespace}/events`,
    identity: nodeIdentity(random, node),
    objectRef: { resource: "events", namespace: workload.namespace, name, apiVersion: "v1" },
    code: 201,
    requestObject: body(false),
    responseObject: body(true),
  });
}

function endpointSliceUpdate(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const name = `${workload.name}-${random.suffix(5)}`;
  const slice = (): JsonObject => ({
    kind: "EndpointSlice",
    apiVersion: "discovery.k8s.io/v1",
    metadata: {
      name,
      generateName: `${workload.name}-`,
      namespace: workload.namespace,
      uid: random.uuid(),
      resourceVersion: random.digits(8),
      generation: random.int(900),
      creationTimestamp: isoSeconds(model, 86_400_000),
      labels: {
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        "kubernetes.io/service-name": workload.name,
      },
      annotations: { "endpoints.kubernetes.io/last-change-trigger-time": isoSeconds(model, 1_000) },
      ownerReferences: [
        {
          apiVersion: "v1",
          kind: "Service",
          name: workload.name,
          uid: random.uuid(),
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType: "IPv4",
    endpoints: workload.podNames.slice(0, 3).map((podName) => ({
      addresses: [random.privateIp()],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: "Pod", namespace: workload.namespace, name: podName, uid: random.uuid() },
      nodeName: random.pick(model.nodes),
      zone: `${REGION}${random.pick(["a", "b", "c"])}`,
    })),
    ports: [{ name: "http", protocol: "TCP", port: 8080 }],
  });
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "update",
    requestURI: `/apis/discovery.k8s.io/v1/namespaces/${workload.namespace}/endpointslices/${name}`,
    identity: controllerIdentity(random, "endpointslice-controller"),
    objectRef: {
      resource: "endpointslices",
      namespace: workload.namespace,
      name,
      uid: random.uuid(),
      apiGroup: "discovery.k8s.io",
      apiVersion: "v1",
      resourceVersion: random.digits(8),
    },
    code: 200,
    requestObject: slice(),
    responseObject: slice(),
    reason: 'RBAC: allowed by ClusterRoleBinding "system:controller:endpointslice-controller"',
  });
}

/** kubelet reporting container status: a strategic merge patch of pods/status (EKS logs the patch only). */
function podStatusPatch(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const name = random.pick(workload.podNames);
  const node = random.pick(model.nodes);
  const now = isoSeconds(model, 0);
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "patch",
    requestURI: `/api/v1/namespaces/${workload.namespace}/pods/${name}/status`,
    identity: nodeIdentity(random, node),
    objectRef: podRef(workload, name, { subresource: "status" }),
    code: 200,
    requestObject: {
      metadata: { uid: random.uuid() },
      status: {
        "$setElementOrder/conditions": [
          "PodReadyToStartContainers",
          "Initialized",
          "Ready",
          "ContainersReady",
          "PodScheduled",
        ].map((type) => ({ type })),
        conditions: [
          { lastTransitionTime: now, status: "True", type: "Ready" },
          { lastTransitionTime: now, status: "True", type: "ContainersReady" },
        ],
        containerStatuses: ["app", "sidecar-1"].map((container) => ({
          containerID: `containerd://${random.hex(64)}`,
          image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${workload.image}:v1.${random.int(40)}.0`,
          imageID: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${workload.image}@sha256:${random.hex(64)}`,
          lastState: {},
          name: container,
          ready: true,
          restartCount: random.int(3),
          started: true,
          state: { running: { startedAt: now } },
        })),
      },
    },
    responseObject: pod(model, random, workload, name),
  });
}

const NODE_CONDITIONS = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] as const;

/** kubelet's periodic node status report: a patch of nodes/status (EKS logs the patch only). */
function nodeStatusPatch(model: ClusterModel, random: RandomSource): JsonObject {
  const node = random.pick(model.nodes);
  const heartbeat = isoSeconds(model, 0);
  const status: JsonObject = {
    "$setElementOrder/conditions": NODE_CONDITIONS.map((type) => ({ type })),
    conditions: NODE_CONDITIONS.map((type) => ({ lastHeartbeatTime: heartbeat, type })),
  };
  // Now and then the image list changed too, and the whole list is sent.
  if (random.int(8) === 0) {
    status.images = Array.from({ length: 12 + random.int(20) }, () => ({
      names: [
        `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${random.pick(model.workloads).image}@sha256:${random.hex(64)}`,
        `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${random.pick(model.workloads).image}:v1.${random.int(40)}.0`,
      ],
      sizeBytes: 10_000_000 + random.int(300_000_000),
    }));
  }
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "patch",
    requestURI: `/api/v1/nodes/${node}/status?timeout=10s`,
    identity: nodeIdentity(random, node),
    objectRef: { resource: "nodes", name: node, apiVersion: "v1", subresource: "status" },
    code: 200,
    requestObject: { status },
    responseObject: { kind: "Node", apiVersion: "v1", metadata: { name: node }, status },
  });
}

/** Leader election of the control plane's and add-ons' controllers: kube-system leases renewed every 2 s. */
function leaderLeaseUpdate(model: ClusterModel, random: RandomSource): JsonObject {
  const holder = random.pick([
    "kube-controller-manager",
    "kube-scheduler",
    "cloud-controller-manager",
    "aws-load-balancer-controller-leader",
    "cluster-autoscaler",
  ]);
  const renewTime = new Date(model.clock).toISOString().replace("Z", `${random.digits(3)}Z`);
  const lease = (): JsonObject => ({
    kind: "Lease",
    apiVersion: "coordination.k8s.io/v1",
    metadata: {
      name: holder,
      namespace: "kube-system",
      uid: random.uuid(),
      resourceVersion: random.digits(8),
    },
    spec: {
      holderIdentity: `ip-172-16-${random.int(256)}-${random.int(256)}.${REGION}.compute.internal_${random.uuid()}`,
      leaseDurationSeconds: 15,
      acquireTime: isoSeconds(model, 86_400_000),
      renewTime,
      leaseTransitions: random.int(20),
    },
  });
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "update",
    requestURI: `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${holder}?timeout=5s`,
    identity: controllerIdentity(random, holder === "kube-scheduler" ? "kube-scheduler" : "leader-election"),
    objectRef: {
      resource: "leases",
      namespace: "kube-system",
      name: holder,
      uid: random.uuid(),
      apiGroup: "coordination.k8s.io",
      apiVersion: "v1",
      resourceVersion: random.digits(8),
    },
    code: 200,
    requestObject: lease(),
    responseObject: lease(),
  });
}

/** kubelet asking for a projected service account token for a pod (serviceaccounts/token, Request level). */
function tokenRequest(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const node = random.pick(model.nodes);
  const spec: JsonObject = {
    audiences: ["https://kubernetes.default.svc"],
    expirationSeconds: 3607,
    boundObjectRef: {
      kind: "Pod",
      apiVersion: "v1",
      name: random.pick(workload.podNames),
      uid: random.uuid(),
    },
  };
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "create",
    requestURI: `/api/v1/namespaces/${workload.namespace}/serviceaccounts/${workload.serviceAccount}/token`,
    identity: nodeIdentity(random, node),
    objectRef: {
      resource: "serviceaccounts",
      namespace: workload.namespace,
      name: workload.serviceAccount,
      apiVersion: "v1",
      subresource: "token",
    },
    code: 201,
    requestObject: {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { creationTimestamp: null },
      spec,
    },
    responseObject: {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      spec,
      status: { token: "", expirationTimestamp: isoSeconds(model, -3_607_000) },
    },
  });
}

/** A webhook authorizer's question (kubelet, metrics-server, kube-rbac-proxy): RequestResponse, small. */
function subjectAccessReview(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const spec: JsonObject = {
    resourceAttributes: {
      namespace: workload.namespace,
      verb: "get",
      group: "",
      version: "v1",
      resource: "nodes",
      subresource: random.pick(["metrics", "stats", "proxy"]),
      name: random.pick(model.nodes),
    },
    user: `system:serviceaccount:kube-system:metrics-server`,
    groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
    uid: random.uuid(),
  };
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "create",
    requestURI: "/apis/authorization.k8s.io/v1/subjectaccessreviews?timeout=10s",
    identity: nodeIdentity(random, random.pick(model.nodes)),
    objectRef: { resource: "subjectaccessreviews", apiGroup: "authorization.k8s.io", apiVersion: "v1" },
    code: 201,
    requestObject: {
      kind: "SubjectAccessReview",
      apiVersion: "authorization.k8s.io/v1",
      metadata: { creationTimestamp: null },
      spec,
    },
    responseObject: {
      kind: "SubjectAccessReview",
      apiVersion: "authorization.k8s.io/v1",
      metadata: { creationTimestamp: null },
      spec,
      status: { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "system:metrics-server"' },
    },
  });
}

/** A TokenReview by the API server's webhook clients: Metadata level on EKS. */
function tokenReview(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "create",
    requestURI: "/apis/authentication.k8s.io/v1/tokenreviews",
    identity: workloadIdentity(random, workload),
    objectRef: { resource: "tokenreviews", apiGroup: "authentication.k8s.io", apiVersion: "v1" },
    code: 201,
    requestObject: { spec: { token: "" } },
    responseObject: { status: { authenticated: true } },
  });
}

/** The ReplicaSet controller creating a pod: the template in, the stored pod out (RequestResponse). */
function podCreate(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const name = `${workload.name}-${workload.replicaSetHash}-${random.suffix(5)}`;
  const stored = pod(model, random, workload, name);
  const metadata = stored.metadata as JsonObject;
  const spec = { ...(stored.spec as JsonObject) };
  delete spec.nodeName;
  const request: JsonObject = {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      generateName: metadata.generateName ?? null,
      creationTimestamp: null,
      labels: metadata.labels ?? null,
      ownerReferences: metadata.ownerReferences ?? null,
    },
    spec,
    status: {},
  };
  const response: JsonObject = {
    ...stored,
    spec,
    status: { phase: "Pending", qosClass: "Burstable" },
  };
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "create",
    requestURI: `/api/v1/namespaces/${workload.namespace}/pods`,
    identity: controllerIdentity(random, "replicaset-controller"),
    objectRef: { resource: "pods", namespace: workload.namespace, apiVersion: "v1" },
    code: 201,
    requestObject: request,
    responseObject: response,
    reason: 'RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller"',
  });
}

/** A pod deleted by the ReplicaSet controller: DeleteOptions in, the pod marked for deletion out. */
function podDelete(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const name = random.pick(workload.podNames);
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "delete",
    requestURI: `/api/v1/namespaces/${workload.namespace}/pods/${name}`,
    identity: controllerIdentity(random, "replicaset-controller"),
    objectRef: podRef(workload, name),
    code: 200,
    requestObject: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" },
    responseObject: pod(model, random, workload, name),
    reason: 'RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller"',
  });
}

/** The Deployment controller updating a ReplicaSet's status (apps group: RequestResponse, both objects). */
function replicaSetStatusUpdate(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const name = `${workload.name}-${workload.replicaSetHash}`;
  const replicaSet = (): JsonObject => {
    const template = pod(model, random, workload, name);
    const spec = { ...(template.spec as JsonObject) };
    delete spec.nodeName;
    return {
      kind: "ReplicaSet",
      apiVersion: "apps/v1",
      metadata: {
        name,
        namespace: workload.namespace,
        uid: random.uuid(),
        resourceVersion: random.digits(8),
        generation: 1 + random.int(40),
        creationTimestamp: isoSeconds(model, 86_400_000),
        labels: { app: workload.name, "pod-template-hash": workload.replicaSetHash },
        annotations: {
          "deployment.kubernetes.io/desired-replicas": "6",
          "deployment.kubernetes.io/max-replicas": "8",
          "deployment.kubernetes.io/revision": String(1 + random.int(30)),
        },
      },
      spec: {
        replicas: 6,
        selector: { matchLabels: { app: workload.name, "pod-template-hash": workload.replicaSetHash } },
        template: { metadata: { labels: { app: workload.name } }, spec },
      },
      status: {
        replicas: 6,
        fullyLabeledReplicas: 6,
        readyReplicas: 5 + random.int(2),
        availableReplicas: 5 + random.int(2),
        observedGeneration: 1 + random.int(40),
      },
    };
  };
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "update",
    requestURI: `/apis/apps/v1/namespaces/${workload.namespace}/replicasets/${name}/status`,
    identity: controllerIdentity(random, "replicaset-controller"),
    objectRef: {
      resource: "replicasets",
      namespace: workload.namespace,
      name,
      uid: random.uuid(),
      apiGroup: "apps",
      apiVersion: "v1",
      resourceVersion: random.digits(8),
      subresource: "status",
    },
    code: 200,
    requestObject: replicaSet(),
    responseObject: replicaSet(),
    reason: 'RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller"',
  });
}

/** kube-proxy's watches of endpoints and services, and kubelets reading their node: EKS logs neither. */
function unloggedRead(model: ClusterModel, random: RandomSource): JsonObject {
  const node = random.pick(model.nodes);
  if (random.int(2) === 0) {
    return auditEvent(model, random, {
      level: "RequestResponse",
      verb: "get",
      requestURI: `/api/v1/nodes/${node}?resourceVersion=0&timeout=10s`,
      identity: nodeIdentity(random, node),
      objectRef: { resource: "nodes", name: node, apiVersion: "v1" },
      code: 200,
    });
  }
  const resource = random.pick(["endpoints", "services"]);
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "watch",
    requestURI: `/api/v1/${resource}?allowWatchBookmarks=true&resourceVersion=${random.digits(8)}&watch=true`,
    identity: {
      user: { username: "system:kube-proxy", groups: ["system:authenticated"] },
      userAgent: `kube-proxy/v1.31.4 (linux/amd64) kubernetes/${random.hex(7)}`,
      sourceIPs: [random.privateIp()],
    },
    objectRef: { resource, apiVersion: "v1" },
    code: 200,
  });
}

/** Every kind of everyday request the bench generates, by name (bench/traffic.ts weighs them). */
export const REQUESTS = {
  leaseUpdate,
  leaderLeaseUpdate,
  watch,
  podGet,
  podList,
  configMapGet: (model: ClusterModel, random: RandomSource) => configGet(model, random, "configmaps"),
  secretGet: (model: ClusterModel, random: RandomSource) => configGet(model, random, "secrets"),
  eventCreate,
  endpointSliceUpdate,
  podStatusPatch,
  nodeStatusPatch,
  tokenRequest,
  tokenReview,
  subjectAccessReview,
  podCreate,
  podDelete,
  replicaSetStatusUpdate,
  unloggedRead,
} as const satisfies Record<string, (model: ClusterModel, random: RandomSource) => JsonObject>;

/** `kubectl debug --profile=sysadmin` refused by Pod Security admission: the patch in, a 403 Status out. */
function deniedEphemeralWrite(model: ClusterModel, random: RandomSource): JsonObject {
  const event = ephemeralWrite(model, random);
  const requestObject = event.requestObject as JsonObject;
  const spec = requestObject.spec as JsonObject;
  const containers = spec.ephemeralContainers as JsonObject[];
  const container = containers[0] as JsonObject;
  container.securityContext = { privileged: true };
  const ref = event.objectRef as JsonObject;
  event.responseObject = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `pods "${ref.name}" is forbidden: violates PodSecurity "baseline:latest": privileged (container "${container.name}" must not set securityContext.privileged=true)`,
    reason: "Forbidden",
    details: { name: ref.name as string, kind: "pods" },
    code: 403,
  };
  event.responseStatus = {
    metadata: {},
    status: "Failure",
    message: (event.responseObject as JsonObject).message as string,
    reason: "Forbidden",
    details: { name: ref.name as string, kind: "pods" },
    code: 403,
  };
  event.annotations = {
    ...(event.annotations as JsonObject),
    "pod-security.kubernetes.io/enforce-policy": "baseline:latest",
  };
  return event;
}

/** A read of the subresource (`kubectl get --raw …/ephemeralcontainers`, a scanner): no write, no finding. */
function ephemeralContainersRead(model: ClusterModel, random: RandomSource): JsonObject {
  const workload = random.pick(model.workloads);
  const name = random.pick(workload.podNames);
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "get",
    requestURI: `/api/v1/namespaces/${workload.namespace}/pods/${name}/ephemeralcontainers`,
    identity: humanIdentity(random),
    objectRef: podRef(workload, name, { subresource: "ephemeralcontainers" }),
    code: 200,
    responseObject: pod(model, random, workload, name),
    reason: EKS_ADMIN_REASON,
  });
}

/** A GitOps controller applying a ClusterRole that grants the subresource: it names the word, writes no pod. */
function roleNamingEphemeralContainers(model: ClusterModel, random: RandomSource): JsonObject {
  const name = random.pick(["platform-debuggers", "sre-oncall", "support-readonly"]);
  const role = (): JsonObject => ({
    kind: "ClusterRole",
    apiVersion: "rbac.authorization.k8s.io/v1",
    metadata: {
      name,
      uid: random.uuid(),
      resourceVersion: random.digits(8),
      creationTimestamp: isoSeconds(model, 864_000_000),
      labels: { "app.kubernetes.io/managed-by": "argocd" },
    },
    rules: [
      { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["pods/ephemeralcontainers"], verbs: ["patch", "update"] },
      { apiGroups: [""], resources: ["pods/attach", "pods/exec"], verbs: ["create"] },
    ],
  });
  return auditEvent(model, random, {
    level: "RequestResponse",
    verb: "update",
    requestURI: `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`,
    identity: controllerIdentity(random, "argocd-application-controller"),
    objectRef: {
      resource: "clusterroles",
      name,
      apiGroup: "rbac.authorization.k8s.io",
      apiVersion: "v1",
    },
    code: 200,
    requestObject: role(),
    responseObject: role(),
  });
}

/**
 * A write padded past CloudWatch Logs' event size (an env value of `padding` characters): the log event is the
 * start of its JSON only, cut by bench/traffic.ts. Not everyday traffic; the subscription filter's term
 * pattern passes it, so the filtered stream has a few.
 */
function paddedEphemeralWrite(model: ClusterModel, random: RandomSource, padding: number): JsonObject {
  const event = ephemeralWrite(model, random);
  const spec = (event.requestObject as JsonObject).spec as JsonObject;
  const container = (spec.ephemeralContainers as JsonObject[])[0] as JsonObject;
  container.env = [{ name: "NOTES", value: "x".repeat(padding) }];
  return event;
}

/** What the subscription filter's term pattern passes besides successful writes (bench/traffic.ts weighs them). */
export const PATTERN_REQUESTS = {
  ephemeralWrite,
  deniedEphemeralWrite,
  ephemeralContainersRead,
  roleNamingEphemeralContainers,
} as const satisfies Record<string, (model: ClusterModel, random: RandomSource) => JsonObject>;

export { paddedEphemeralWrite };

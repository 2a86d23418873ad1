import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import selfsigned from "selfsigned";
import { listenOnLoopback } from "./listen-on-loopback.ts";
import { readRequestBody } from "./read-request-body.ts";

/**
 * A Kubernetes API server for tests: HTTPS on 127.0.0.1 with a certificate signed by a CA generated here,
 * serving GET and DELETE of pods the test puts in it, honouring `preconditions.uid` and `dryRun=All` the way
 * the real API server does, recording every request, and answering scripted statuses when told to.
 */

export interface TestCa {
  /** PEM of the CA certificate. */
  cert: string;
  key: string;
  /** base64 of the PEM, as EKS DescribeCluster returns `certificateAuthority.data`. */
  data: string;
}

export async function generateTestCa(commonName = "ephemeral-guard test CA"): Promise<TestCa> {
  const now = new Date();
  const pems = await selfsigned.generate([{ name: "commonName", value: commonName }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: new Date(now.getTime() - 3_600_000),
    notAfterDate: new Date(now.getTime() + 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private, data: Buffer.from(pems.cert).toString("base64") };
}

/** A server certificate for 127.0.0.1 signed by `ca` (the Slack webhook peer's HTTPS mode uses it too). */
export async function serverCertificate(ca: TestCa): Promise<{ cert: string; key: string }> {
  const now = new Date();
  const pems = await selfsigned.generate([{ name: "commonName", value: "kubernetes" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: new Date(now.getTime() - 3_600_000),
    notAfterDate: new Date(now.getTime() + 86_400_000),
    ca: { cert: ca.cert, key: ca.key },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The bearer token without the `Bearer ` prefix, if any. */
  token: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface FakeEphemeralContainer {
  name: string;
  /** `busybox` when not given. */
  image?: string;
  targetContainerName?: string;
}

export interface FakePod {
  namespace: string;
  name: string;
  uid: string;
  ownerReferences?: OwnerReference[];
  annotations?: Record<string, string>;
  /** The ephemeral containers the pod has: a name alone is image `busybox` with no target. */
  ephemeralContainers?: (string | FakeEphemeralContainer)[];
}

/** A scripted answer: a status with a Kubernetes Status body, or no answer at all (the request hangs). */
export type ScriptedResponse =
  | { status: number; message?: string; retryAfterSeconds?: number }
  | { hang: true };

export interface KubernetesApiServer {
  readonly url: string;
  readonly ca: TestCa;
  readonly requests: RecordedRequest[];
  /** Adds or replaces a pod (replacing with a new uid is how a controller "recreates" it). */
  putPod(pod: FakePod): void;
  hasPod(namespace: string, name: string): boolean;
  /** Removes a pod, as if someone else (or an earlier, unanswered request) deleted it. */
  removePod(namespace: string, name: string): void;
  /** The next answers to `METHOD path`, consumed in order before the pods are consulted. */
  script(method: "GET" | "DELETE", path: string, responses: ScriptedResponse[]): void;
  /** Tokens failing this check get 401, like an API server whose authenticator rejects them. */
  checkToken(check: ((token: string | undefined) => boolean) | undefined): void;
  deletes(): RecordedRequest[];
  /** Forgets requests, scripts, the token check and the pods. */
  reset(): void;
  stop(): Promise<void>;
}

export function podPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${namespace}/pods/${name}`;
}

const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/;
/** Bound on a request body: DeleteOptions are tiny. */
const MAX_BODY_BYTES = 64 * 1024;

function status(code: number, reason: string, message: string) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

const REASONS: Record<number, string> = {
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
};

function podJson(pod: FakePod, deleting = false) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      ...(pod.ownerReferences ? { ownerReferences: pod.ownerReferences } : {}),
      ...(pod.annotations ? { annotations: pod.annotations } : {}),
      ...(deleting ? { deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 10 } : {}),
    },
    spec: {
      containers: [{ name: "app", image: "registry.example/app:1" }],
      ephemeralContainers: (pod.ephemeralContainers ?? []).map((container) => {
        const {
          name,
          image = "busybox",
          targetContainerName,
        } = typeof container === "string" ? { name: container } : container;
        return { name, image, ...(targetContainerName === undefined ? {} : { targetContainerName }) };
      }),
    },
  };
}

export async function startKubernetesApiServer(options: { ca?: TestCa } = {}): Promise<KubernetesApiServer> {
  const ca = options.ca ?? (await generateTestCa());
  const tls = await serverCertificate(ca);
  const pods = new Map<string, FakePod>();
  const scripts = new Map<string, ScriptedResponse[]>();
  const requests: RecordedRequest[] = [];
  let tokenCheck: ((token: string | undefined) => boolean) | undefined;

  function send(response: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}) {
    response.writeHead(code, { "content-type": "application/json", ...headers });
    response.end(JSON.stringify(body));
  }

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? "/", "https://127.0.0.1");
    const raw = await readRequestBody(request, MAX_BODY_BYTES);
    let body: unknown;
    try {
      body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
    }
    const authorization = request.headers.authorization;
    const token = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
    const method = request.method ?? "GET";
    requests.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      token,
      authorization,
      body,
    });

    if (tokenCheck && !tokenCheck(token)) {
      send(response, 401, status(401, "Unauthorized", "Unauthorized"));
      return;
    }
    const scripted = scripts.get(`${method} ${url.pathname}`)?.shift();
    if (scripted !== undefined) {
      if ("hang" in scripted) return; // never answered; the client's timeout must give up
      const headers: Record<string, string> =
        scripted.retryAfterSeconds === undefined ? {} : { "retry-after": String(scripted.retryAfterSeconds) };
      const reason = REASONS[scripted.status] ?? "Unknown";
      send(response, scripted.status, status(scripted.status, reason, scripted.message ?? reason), headers);
      return;
    }
    const match = url.pathname.match(POD_PATH);
    if (!match) {
      send(response, 404, status(404, "NotFound", "the server could not find the requested resource"));
      return;
    }
    const [, namespace = "", name = ""] = match;
    const key = `${namespace}/${name}`;
    const pod = pods.get(key);
    if (pod === undefined) {
      send(response, 404, status(404, "NotFound", `pods "${name}" not found`));
      return;
    }
    if (method === "GET") {
      send(response, 200, podJson(pod));
      return;
    }
    if (method === "DELETE") {
      const wanted = (body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
      if (wanted !== undefined && wanted !== pod.uid) {
        send(
          response,
          409,
          status(
            409,
            "Conflict",
            `Operation cannot be fulfilled on Pod "${name}": Precondition failed: UID in precondition: ${wanted}, UID in object meta: ${pod.uid}`,
          ),
        );
        return;
      }
      if (url.searchParams.get("dryRun") !== "All") pods.delete(key);
      send(response, 200, podJson(pod, true));
      return;
    }
    send(response, 405, status(405, "MethodNotAllowed", `${method} is not supported by this peer`));
  }

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, status(500, "InternalError", String(error)));
    });
  });
  // A client that refuses our certificate hangs up mid-handshake; that is expected here.
  server.on("tlsClientError", () => undefined);
  const listener = await listenOnLoopback(server);
  const url = `https://127.0.0.1:${listener.port}`;

  return {
    url,
    ca,
    requests,
    putPod(pod) {
      pods.set(`${pod.namespace}/${pod.name}`, pod);
    },
    hasPod(namespace, name) {
      return pods.has(`${namespace}/${name}`);
    },
    removePod(namespace, name) {
      pods.delete(`${namespace}/${name}`);
    },
    script(method, path, responses) {
      scripts.set(`${method} ${path}`, [...(scripts.get(`${method} ${path}`) ?? []), ...responses]);
    },
    checkToken(check) {
      tokenCheck = check;
    },
    deletes() {
      return requests.filter((request) => request.method === "DELETE");
    },
    reset() {
      requests.length = 0;
      scripts.clear();
      pods.clear();
      tokenCheck = undefined;
    },
    async stop() {
      await listener.close();
    },
  };
}

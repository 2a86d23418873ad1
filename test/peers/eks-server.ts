import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen-on-loopback.ts";

/**
 * Amazon EKS for tests: REST-JSON on 127.0.0.1, answering from the clusters the test registers and recording
 * each request. DescribeCluster (`GET /clusters/{name}`) gives what remediation needs (endpoint, CA) and what
 * coverage and hunt need (status, arn, `logging.clusterLogging`); ListClusters (`GET /clusters`) pages with
 * `maxResults`/`nextToken` as the service does.
 */

/** The control-plane log types EKS can send to CloudWatch Logs. */
export const EKS_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"] as const;
export type EksLogType = (typeof EKS_LOG_TYPES)[number];

export interface EksClusterRecord {
  name: string;
  /** The API server URL; omitted from DescribeCluster when absent (a cluster still CREATING has none). */
  endpoint?: string;
  /** base64 of the CA PEM. */
  caData?: string;
  /** Default ACTIVE. */
  status?: string;
  /** Log types enabled; default ["audit"]. The others are reported as disabled. */
  logTypes?: readonly EksLogType[];
  /** Reported as `createdAt` (the service's epoch seconds); omitted when absent. */
  createdAt?: Date;
}

export interface EksServerOptions {
  accountId?: string;
  region?: string;
  /** Most clusters one ListClusters page holds when the request gives no smaller maxResults (service: 100). */
  listPageSize?: number;
}

export interface EksServer {
  readonly endpoint: string;
  /** `query` is the query string, present only when the request had one. */
  readonly requests: {
    method: string;
    path: string;
    query?: string;
    signed: boolean;
    /** The access key id of the SigV4 signature, when signed: whose credentials made the call. */
    accessKeyId?: string;
  }[];
  putCluster(cluster: EksClusterRecord): void;
  deleteCluster(name: string): void;
  stop(): Promise<void>;
}

const DESCRIBE_PATH = /^\/clusters\/([^/]+)$/;
const MAX_LIST_RESULTS = 100;

export async function startEksServer(options: EksServerOptions = {}): Promise<EksServer> {
  const accountId = options.accountId ?? "111122223333";
  const region = options.region ?? "us-east-1";
  const clusters = new Map<string, EksClusterRecord>();
  const requests: EksServer["requests"] = [];

  function send(response: ServerResponse, code: number, body: unknown, errorType?: string) {
    response.writeHead(code, {
      "content-type": "application/json",
      "x-amzn-requestid": `req-${requests.length}`,
      ...(errorType ? { "x-amzn-errortype": errorType } : {}),
    });
    response.end(JSON.stringify(body));
  }

  function describe(response: ServerResponse, name: string) {
    const cluster = clusters.get(name);
    if (!cluster) {
      send(response, 404, { message: `No cluster found for name: ${name}.` }, "ResourceNotFoundException");
      return;
    }
    const enabled = cluster.logTypes ?? ["audit"];
    const disabled = EKS_LOG_TYPES.filter((type) => !enabled.includes(type));
    send(response, 200, {
      cluster: {
        name: cluster.name,
        arn: `arn:aws:eks:${region}:${accountId}:cluster/${cluster.name}`,
        ...(cluster.endpoint === undefined ? {} : { endpoint: cluster.endpoint }),
        ...(cluster.caData === undefined ? {} : { certificateAuthority: { data: cluster.caData } }),
        status: cluster.status ?? "ACTIVE",
        ...(cluster.createdAt === undefined ? {} : { createdAt: cluster.createdAt.getTime() / 1000 }),
        accessConfig: { authenticationMode: "API_AND_CONFIG_MAP" },
        logging: {
          clusterLogging: [
            ...(enabled.length > 0 ? [{ types: [...enabled], enabled: true }] : []),
            ...(disabled.length > 0 ? [{ types: disabled, enabled: false }] : []),
          ],
        },
      },
    });
  }

  function list(response: ServerResponse, query: URLSearchParams) {
    const maxResults = query.has("maxResults") ? Number(query.get("maxResults")) : MAX_LIST_RESULTS;
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > MAX_LIST_RESULTS) {
      send(response, 400, { message: "maxResults must be 1..100" }, "InvalidParameterException");
      return;
    }
    const names = [...clusters.keys()].sort();
    const token = query.get("nextToken");
    const start = token === null ? 0 : names.indexOf(Buffer.from(token, "base64url").toString("utf8"));
    if (start < 0) {
      send(response, 400, { message: "The nextToken is invalid." }, "InvalidParameterException");
      return;
    }
    const end = start + Math.min(maxResults, options.listPageSize ?? MAX_LIST_RESULTS);
    const next = names[end];
    send(response, 200, {
      clusters: names.slice(start, end),
      ...(next === undefined ? {} : { nextToken: Buffer.from(next).toString("base64url") }),
    });
  }

  function handle(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const method = request.method ?? "GET";
    const authorization = String(request.headers.authorization ?? "");
    const accessKeyId = /^AWS4-HMAC-SHA256 Credential=([^/,]+)\//.exec(authorization)?.[1];
    requests.push({
      method,
      path: decodeURIComponent(url.pathname),
      ...(url.search === "" ? {} : { query: url.search }),
      signed: authorization.startsWith("AWS4-HMAC-SHA256 "),
      ...(accessKeyId === undefined ? {} : { accessKeyId }),
    });
    request.resume();
    const match = url.pathname.match(DESCRIBE_PATH);
    if (method === "GET" && url.pathname === "/clusters") {
      list(response, url.searchParams);
      return;
    }
    if (method !== "GET" || !match) {
      send(response, 404, { message: `unsupported ${method} ${url.pathname}` }, "UnknownOperationException");
      return;
    }
    describe(response, decodeURIComponent(match[1] ?? ""));
  }

  const server = createServer(handle);
  const listener = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    requests,
    putCluster(cluster) {
      clusters.set(cluster.name, cluster);
    },
    deleteCluster(name) {
      clusters.delete(name);
    },
    async stop() {
      await listener.close();
    },
  };
}

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen-on-loopback.ts";

/**
 * Amazon EKS for tests, as far as remediation needs it: REST-JSON `GET /clusters/{name}` (DescribeCluster)
 * on 127.0.0.1, answering from the clusters the test registers and recording each request.
 */

export interface EksClusterRecord {
  name: string;
  endpoint: string;
  /** base64 of the CA PEM. */
  caData: string;
  status?: string;
}

export interface EksServer {
  readonly endpoint: string;
  readonly requests: { method: string; path: string; signed: boolean }[];
  putCluster(cluster: EksClusterRecord): void;
  stop(): Promise<void>;
}

const DESCRIBE_PATH = /^\/clusters\/([^/]+)$/;

export async function startEksServer(): Promise<EksServer> {
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

  function handle(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const method = request.method ?? "GET";
    requests.push({
      method,
      path: decodeURIComponent(url.pathname),
      signed: String(request.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "),
    });
    request.resume();
    const match = url.pathname.match(DESCRIBE_PATH);
    if (method !== "GET" || !match) {
      send(response, 404, { message: `unsupported ${method} ${url.pathname}` }, "UnknownOperationException");
      return;
    }
    const name = decodeURIComponent(match[1] ?? "");
    const cluster = clusters.get(name);
    if (!cluster) {
      send(response, 404, { message: `No cluster found for name: ${name}.` }, "ResourceNotFoundException");
      return;
    }
    send(response, 200, {
      cluster: {
        name: cluster.name,
        arn: `arn:aws:eks:us-east-1:111122223333:cluster/${cluster.name}`,
        endpoint: cluster.endpoint,
        certificateAuthority: { data: cluster.caData },
        status: cluster.status ?? "ACTIVE",
        accessConfig: { authenticationMode: "API_AND_CONFIG_MAP" },
      },
    });
  }

  const server = createServer(handle);
  const listener = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    requests,
    putCluster(cluster) {
      clusters.set(cluster.name, cluster);
    },
    async stop() {
      await listener.close();
    },
  };
}

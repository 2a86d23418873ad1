import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";

/**
 * DynamoDB on 127.0.0.1 for tests: dynalite (a real DynamoDB API implementation on an in-memory LevelDB),
 * started on a free port, with the tables a test needs created and ACTIVE before it returns.
 */

interface DynaliteOptions {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

// dynalite is CommonJS without type declarations; its export is a factory returning an http.Server.
const dynalite = createRequire(import.meta.url)("dynalite") as (options: DynaliteOptions) => Server;

export const TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;
export const TEST_REGION = "us-east-1";

export interface TableSpec {
  name: string;
  /** Partition key attribute (string). Powertools idempotency uses `id`. */
  partitionKey?: string;
  /** Sort key attribute (string), when the table has one. */
  sortKey?: string;
  /** TTL attribute, enabled when given (the idempotency table uses `expiration`). */
  ttlAttribute?: string;
}

export interface DynamoPeer {
  readonly endpoint: string;
  /** A client pointed at the peer with test credentials; destroyed by `stop()`. */
  readonly client: DynamoDBClient;
  createTable(spec: TableSpec): Promise<void>;
  /** Deletes every item (tables here hold a handful), so each test starts from an empty table. */
  clearTable(name: string, partitionKey?: string, sortKey?: string): Promise<void>;
  /** Requests the peer has received since it started (the bench counts DynamoDB calls with it). */
  requests(): number;
  stop(): Promise<void>;
}

/** The idempotency table as infra/idempotency-table.yml declares it. */
export function idempotencyTable(name: string): TableSpec {
  return { name, partitionKey: "id", ttlAttribute: "expiration" };
}

/** The storm-state table as infra/storm.yml declares it. */
export function stormTable(name: string): TableSpec {
  return { name, partitionKey: "pk", sortKey: "sk", ttlAttribute: "expiresAt" };
}

const MAX_WAIT_POLLS = 50;
const MAX_CLEAR_PAGES = 100;

export async function startDynalite(tables: readonly TableSpec[] = []): Promise<DynamoPeer> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  let requests = 0;
  server.on("request", () => {
    requests++;
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS });

  async function createTable(spec: TableSpec): Promise<void> {
    const key = spec.partitionKey ?? "id";
    const sort = spec.sortKey;
    const input: CreateTableCommandInput = {
      TableName: spec.name,
      AttributeDefinitions: [
        { AttributeName: key, AttributeType: "S" },
        ...(sort ? [{ AttributeName: sort, AttributeType: "S" as const }] : []),
      ],
      KeySchema: [
        { AttributeName: key, KeyType: "HASH" },
        ...(sort ? [{ AttributeName: sort, KeyType: "RANGE" as const }] : []),
      ],
      BillingMode: "PAY_PER_REQUEST",
    };
    await client.send(new CreateTableCommand(input));
    for (let poll = 0; poll < MAX_WAIT_POLLS; poll++) {
      const described = await client.send(new DescribeTableCommand({ TableName: spec.name }));
      if (described.Table?.TableStatus === "ACTIVE") break;
      if (poll === MAX_WAIT_POLLS - 1) throw new Error(`table ${spec.name} never became ACTIVE`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (spec.ttlAttribute) {
      // dynalite does not implement UpdateTimeToLive; real DynamoDB does. Expiry is not what tests check.
      await client
        .send(
          new UpdateTimeToLiveCommand({
            TableName: spec.name,
            TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true },
          }),
        )
        .catch(() => undefined);
    }
  }

  async function clearTable(name: string, partitionKey = "id", sortKey?: string): Promise<void> {
    for (let page = 0; page < MAX_CLEAR_PAGES; page++) {
      const scanned = await client.send(
        new ScanCommand({
          TableName: name,
          ProjectionExpression: sortKey ? "#k, #s" : "#k",
          ExpressionAttributeNames: { "#k": partitionKey, ...(sortKey ? { "#s": sortKey } : {}) },
        }),
      );
      const items = scanned.Items ?? [];
      if (items.length === 0) return;
      for (const key of items) await client.send(new DeleteItemCommand({ TableName: name, Key: key }));
    }
    throw new Error(`table ${name} still not empty after ${MAX_CLEAR_PAGES} passes`);
  }

  for (const table of tables) await createTable(table);

  return {
    endpoint,
    client,
    createTable,
    clearTable,
    requests: () => requests,
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

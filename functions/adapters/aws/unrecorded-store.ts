import type { IdempotencyStore } from "./act-once.ts";

/**
 * An idempotency store that records nothing: every claim succeeds, nothing is ever "already done". For local
 * runs only (`serverless invoke local -f notify-slack` with SLACK_WEBHOOK_URL), which mirror detect's local
 * mode: nothing is recorded, so no DynamoDB table and no AWS credentials are needed. A run posts what it is
 * given, once per run.
 */
export const UNRECORDED_STORE: IdempotencyStore = {
  saveInProgress: async () => undefined,
  saveSuccess: async () => undefined,
  deleteRecord: async () => undefined,
  getRecord: async () => {
    throw new Error("local run: nothing is recorded");
  },
};

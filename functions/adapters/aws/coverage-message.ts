import type { CoverageAlert } from "../../core/cluster-coverage/coverage-alert.ts";
import { severityRank } from "../../core/severity.ts";
import type { TopicMessage } from "./sns-message.ts";

/**
 * A coverage alert as an alerts-topic message. Its attributes are what subscribers filter on: `messageType`
 * keeps it away from remediate and Security Hub (they take `finding` only), `severityRank` lets the pager take
 * coverage alerts at or above its threshold (infra/paging.yml), `state` and `cluster` serve SIEM rules.
 */
export function coverageMessage(alert: CoverageAlert): TopicMessage {
  return {
    id: alert.id,
    body: JSON.stringify(alert),
    attributes: {
      messageType: { DataType: "String", StringValue: "coverage" },
      severity: { DataType: "String", StringValue: alert.severity },
      severityRank: { DataType: "Number", StringValue: String(severityRank(alert.severity)) },
      cluster: { DataType: "String", StringValue: alert.cluster },
      state: { DataType: "String", StringValue: alert.state },
      // Organizations: a filter policy can route one account's alerts (member stacks always set it).
      ...(alert.account ? { account: { DataType: "String" as const, StringValue: alert.account } } : {}),
    },
  };
}

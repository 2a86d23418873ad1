import { describe, expect, it } from "vitest";
import {
  findingSlackMessage,
  MAX_CONTAINER_SECTIONS,
} from "../../../functions/adapters/slack/slack-blocks-finding.ts";
import { remediationSlackMessage } from "../../../functions/adapters/slack/slack-blocks-remediation.ts";
import { decodeDocument } from "../../../functions/core/decode-input.ts";
import { detectionConfig } from "../../../functions/core/detection-config.ts";
import { Detector } from "../../../functions/core/detector.ts";
import type { Finding } from "../../../functions/core/finding.ts";
import type { RemediationOutcome } from "../../../functions/core/remediation-outcome.ts";
import { RULES } from "../../../functions/core/rules.ts";
import { loadAuditJson } from "../../helpers/events.ts";
import {
  allTexts,
  expectInert,
  expectWithinSlackLimits,
  withoutOwnSequences,
} from "../../helpers/slack-message-checks.ts";

const LOG_GROUP = "/aws/eks/prod-eu/cluster";
const options = { region: "eu-west-1" };

/** A finding as detect produces it: the sample audit event through the core Detector, from the cluster's log group. */
function findingFrom(event: unknown): Finding {
  const detector = new Detector(detectionConfig({}));
  const [finding, ...rest] = detector.ingest(decodeDocument(event, "test", { logGroup: LOG_GROUP }));
  if (!finding || rest.length > 0)
    throw new Error(`expected one finding, got ${rest.length + (finding ? 1 : 0)}`);
  return finding;
}

function joined(finding: Finding): string {
  return allTexts(findingSlackMessage(finding, options)).join("\n");
}

describe("finding message", () => {
  const finding = findingFrom(loadAuditJson("privileged-sysadmin-profile"));
  const message = findingSlackMessage(finding, options);
  const text = joined(finding);

  it("shows severity by colour, emoji and words, and the outcome in the header", () => {
    expect(message.attachments?.[0]?.color).toBe("#A30D1F");
    expect(message.blocks?.[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: "🚨 CRITICAL: ephemeral container added to a pod", emoji: false },
    });
    expect(message.text).toBe(
      "🚨 CRITICAL: ephemeral container added to a pod: `shop/checkout-api-7d9f8b6c5d-x2kqp` on `prod-eu` by `jane.doe`",
    );
  });

  it("shows who, where, when and which audit event", () => {
    expect(text).toContain("*Cluster*\n`prod-eu`");
    expect(text).toContain(
      "`shop/checkout-api-7d9f8b6c5d-x2kqp`\nowned by `ReplicaSet/checkout-api-7d9f8b6c5d`",
    );
    expect(text).toContain("`jane.doe` (user)");
    expect(text).toContain(
      "`arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformEngineer_4f1c2b9e7a3d5c80/jane.doe@example.com`",
    );
    expect(text).toContain("*Source IP*\n`203.0.113.24`");
    expect(text).toContain("`kubectl/v1.36.0 (darwin/arm64) kubernetes/9f1e3c7`");
    expect(text).toContain("<!date^1795167227^{date_short_pretty} {time_secs}|2026-11-20T09:33:47.621Z>");
    expect(text).toContain("*Audit ID*\n`1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64`");
  });

  it("shows each added container with image, profile and risky fields, and the reasons", () => {
    expect(text).toContain("*Container 1/1* `debugger-z5h1d`");
    expect(text).toContain("*Image* `busybox:1.36`");
    expect(text).toContain("*Profile* kubectl debug `--profile=sysadmin` (privileged)");
    expect(text).toContain("*Risky securityContext* `privileged: true`");
    expect(text).toContain('• container "debugger-z5h1d" sets securityContext.privileged: true');
  });

  it("links to a Logs Insights query for this audit event in its log group", () => {
    const [linkSection, smallPrint] = message.attachments?.[0]?.blocks.slice(-2) ?? [];
    expect(linkSection?.type).toBe("section");
    expect(smallPrint?.type).toBe("context");
    expect(text).toMatch(
      /<https:\/\/eu-west-1\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=eu-west-1#logsV2:logs-insights\$3FqueryDetail\$3D~\(.*auditID\*20\*3d\*20\*221d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64\*22~source~\(~'\*2faws\*2feks\*2fprod-eu\*2fcluster\)\)\|Open this audit event in CloudWatch Logs Insights>/,
    );
    expect(text).toContain("Log group `/aws/eks/prod-eu/cluster`");
  });

  it("stays within Slack's limits and writes no control sequence of the event's making", () => {
    expectWithinSlackLimits(message);
    expectInert(message);
    expect(message).toMatchObject({ unfurl_links: false, unfurl_media: false });
  });

  it("names the account and region of a cluster whose name repeats across the organization's accounts", () => {
    const central = {
      ...finding,
      account: "444455556666",
      region: "ap-southeast-2",
      clusterArn: "arn:aws:eks:ap-southeast-2:444455556666:cluster/prod-eu",
    };
    expect(joined(central)).toContain("`prod-eu`\naccount 444455556666, ap-southeast-2");
    expect(findingSlackMessage(central, options).text).toContain(
      "on `prod-eu` (account 444455556666, ap-southeast-2) by",
    );
    expect(joined(finding)).not.toMatch(/account \d{12}/);
  });

  it("says so when the audit policy did not log the body", () => {
    const metadataOnly = findingFrom(loadAuditJson("metadata-level-no-body"));
    expect(joined(metadataOnly)).toContain("_unknown: the audit policy did not record the request body");
  });

  it("tells a refused attempt from a created container", () => {
    expect(joined(findingFrom(loadAuditJson("rbac-forbidden")))).toContain("*forbidden* by authorization");
    expect(joined(findingFrom(loadAuditJson("pod-security-denied")))).toContain("*denied* by admission");
  });
});

describe("attacker-controlled strings", () => {
  const finding = findingFrom(loadAuditJson("slack-injection-strings"));
  const message = findingSlackMessage(finding, options);
  const text = allTexts(message).join("\n");

  it("renders mentions, links and formatting from the event as text", () => {
    expectInert(message);
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain("<!here>");
    expect(text).not.toContain("<@U0ADMIN>");
    expect(text).not.toContain("<https://evil");
    expect(text).toContain("*Container 1/3* `&lt;!channel&gt;`");
    expect(text).toContain("*Container 2/3* `&lt;https://evil.example|click&gt;`");
    expect(text).toContain("targets `*bold* _it_ ~strike~ \u02CBcode\u02CB`");
    expect(text).toContain("impersonating `&lt;@U0ADMIN&gt; @here *admin*`");
  });

  it("neutralises broadcasts and formatting in free text (reasons, API server message)", () => {
    expect(text).toContain("&lt;@U0ADMIN&gt; \uFF20here \u2217admin\u2217");
    expect(text).toContain("(see &lt;https[:]//evil[.]example|the docs&gt;) \u2217now\u2217");
  });

  it("strips control and bidi characters", () => {
    expect(text).toContain("*Container 3/3* `debug[31mgnp.evil line2`");
    expect(text).not.toContain("\u202E");
  });

  it("cuts a 5,000-character image with an ellipsis and stays within limits", () => {
    const image = /\*Image\* (`registry\.evil\.example[^`]*`)/.exec(text)?.[1] ?? "";
    expect(image.length).toBeLessThanOrEqual(500);
    expect(image.endsWith("…`")).toBe(true);
    expectWithinSlackLimits(message);
  });
});

describe("large findings", () => {
  const event = loadAuditJson("privileged-sysadmin-profile");
  const containers = Array.from({ length: 60 }, (_, index) => ({
    name: `debugger-${index}-${"n".repeat(300)}`,
    image: `registry.example/${"i".repeat(3000)}:${index}`,
    securityContext: {
      privileged: true,
      capabilities: { add: ["SYS_ADMIN", "SYS_PTRACE", "NET_ADMIN", "BPF", "SYS_MODULE", "DAC_READ_SEARCH"] },
    },
    command: ["sh", "-c", "x".repeat(2000)],
    volumeMounts: [{ name: "kube-api-access-7xk2p", mountPath: "/t" }],
  }));
  const request = event.requestObject as { spec: { ephemeralContainers: unknown[] } };
  request.spec.ephemeralContainers = containers;
  event.responseObject = undefined;
  const finding = findingFrom(event);
  const message = findingSlackMessage(finding, options);

  it("summarises containers and reasons beyond what fits", () => {
    // The finding lists 20 of the 60 (buildFinding's bound) and counts the rest in omitted.
    expect(finding.containers).toHaveLength(20);
    expect(finding.omitted?.containers).toBe(40);
    expect(finding.reasons.length).toBeGreaterThan(20);
    const text = allTexts(message).join("\n");
    // The count is the whole request's (60), not the finding's 20.
    expect(text).toContain(`*Container ${MAX_CONTAINER_SECTIONS}/60*`);
    expect(text).not.toContain(`*Container ${MAX_CONTAINER_SECTIONS + 1}/60*`);
    expect(text).toContain(
      `*…and ${60 - MAX_CONTAINER_SECTIONS} more container(s)* (40 not copied into the finding)`,
    );
    expect(text).toContain("*Left out of this alert*");
    expect(text).toMatch(/_…and \d+ more reason\(s\), see the finding in the logs_/);
  });

  it("stays within Slack's limits, and modest in total", () => {
    expectWithinSlackLimits(message);
    expectInert(message);
    expect(allTexts(message).join("").length).toBeLessThan(20_000);
  });
});

describe("remediation follow-up", () => {
  const outcome: RemediationOutcome = {
    schemaVersion: 1,
    kind: "remediation",
    auditID: "1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64",
    cluster: "prod-eu",
    pod: {
      namespace: "shop",
      name: "checkout-api-7d9f8b6c5d-x2kqp",
      owner: { kind: "ReplicaSet", name: "checkout-api-7d9f8b6c5d" },
    },
    mode: "enforce",
    result: "deleted",
    detail: "Deleted pod shop/checkout-api-7d9f8b6c5d-x2kqp; its ReplicaSet will replace it.",
    time: "2026-11-20T09:34:02.000Z",
  };

  it("names the original alert's audit ID, pod and cluster and the result", () => {
    const message = remediationSlackMessage(outcome);
    expect(message.text).toBe(
      "↳ 🗑️ *Remediation of alert* `1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64`: *pod deleted* · `shop/checkout-api-7d9f8b6c5d-x2kqp` on `prod-eu`",
    );
    expect(message.blocks).toBeUndefined();
    const text = allTexts(message).join("\n");
    expect(text).toContain("*Result*\n🗑️ pod deleted");
    expect(text).toContain("owned by `ReplicaSet/checkout-api-7d9f8b6c5d`");
    expect(text).toContain("*Mode*\nenforce");
    expectWithinSlackLimits(message);
    expectInert(message);
  });

  it("shows every result distinctly, with the reason", () => {
    const render = (result: RemediationOutcome["result"]) =>
      remediationSlackMessage({
        ...outcome,
        result,
        reason: result === "skipped" ? "protected-namespace" : undefined,
      });
    const colors = (["deleted", "would-delete", "skipped", "failed"] as const).map(
      (result) => render(result).attachments?.[0]?.color,
    );
    expect(new Set(colors).size).toBe(4);
    expect(allTexts(render("would-delete")).join("\n")).toContain(
      "would delete (dry run: nothing was deleted)",
    );
    expect(allTexts(render("skipped")).join("\n")).toContain(
      "skipped: the pod was not deleted (`protected-namespace`)",
    );
    expect(allTexts(render("failed")).join("\n")).toContain("FAILED: the pod was not deleted, act manually");
  });

  it("renders attacker-influenced details as text", () => {
    const message = remediationSlackMessage({
      ...outcome,
      result: "failed",
      reason: "<!channel>",
      detail: "<!channel> *kubectl delete* failed: <https://evil|click> @here",
    });
    expectInert(message);
    expect(allTexts(message).join("\n")).toContain("&lt;!channel&gt; \u2217kubectl delete\u2217 failed");
  });
});

describe("look-alike usernames", () => {
  it("shows the zero-width character in a username that would otherwise read as jane.doe", () => {
    const event = loadAuditJson("privileged-sysadmin-profile");
    (event.user as { username: string }).username = "jane\u200B.doe";
    const finding = findingFrom(event);
    const message = findingSlackMessage(finding, options);
    const text = allTexts(message).join("\n");
    expect(message.text).toContain("by `jane[U+200B].doe`");
    expect(text).toContain("`jane[U+200B].doe` (user)");
    // The reasons quote the username too.
    expect(text).toContain("jane[U+200B].doe added ephemeral container");
    expect(text).not.toMatch(/[\u200B-\u200D\u2060\uFEFF]/);
  });
});

describe("auto-linked domains", () => {
  it("defangs a domain and URL in reasons and the API server message, keeping identifiers intact", () => {
    const event = loadAuditJson("privileged-sysadmin-profile");
    event.userAgent = "evil.example/login https://evil.example/steal";
    const finding = findingFrom(event);
    const text = joined(finding);
    expect(text).toContain('sent by "evil[.]example/login https[:]//evil[.]example/steal", not kubectl');
    // The user agent field is an identifier in a code span: unlinkable, and kept as sent.
    expect(text).toContain("`evil.example/login https://evil.example/steal`");
    // Free text only: code spans (the runbook's rule id) cannot link, and the ATT&CK links are the notifier's.
    const reasons = withoutOwnSequences(text.slice(text.indexOf("*Why this severity*"), text.indexOf("🔎")));
    // No host name is left to link; the field paths the reasons name keep their dots.
    expect(reasons).not.toContain("evil.example");
    expect(reasons).toContain("securityContext.privileged: true");
  });
});

describe("techniques and runbook", () => {
  it("links the finding's ATT&CK techniques and gives the runbook of the strongest rule", () => {
    const text = joined(findingFrom(loadAuditJson("privileged-sysadmin-profile")));
    expect(text).toContain(
      "*ATT&amp;CK* <https://attack.mitre.org/techniques/T1609/|T1609 Container Administration Command> · <https://attack.mitre.org/techniques/T1611/|T1611 Escape to Host>",
    );
    expect(text).toContain(
      "*Runbook* (`container.privileged`) Treat the node as compromised: delete the pod, cordon, drain and replace the node",
    );
    const secrets = joined(findingFrom(loadAuditJson("secret-env")));
    expect(secrets).toContain("<https://attack.mitre.org/techniques/T1552/007/|T1552.007 Container API>");
    expect(secrets).toContain(
      "*Runbook* (`reach.secret-env`) If not expected: rotate the secret's values first",
    );
  });

  it("gives a refused attempt the runbook of the refusal, not of what it tried", () => {
    const text = joined(findingFrom(loadAuditJson("rbac-forbidden")));
    expect(text).toContain("*Runbook* (`outcome.forbidden`) Check the identity's other recent requests");
  });

  it.each(RULES.map((rule) => [rule.id, rule.runbook] as const))(
    "renders the runbook of %s as written",
    (id, runbook) => {
      const finding = findingFrom(loadAuditJson("kubectl-debug-legacy-profile"));
      const headline = { id, severity: "low", effect: "floor", text: "headline" } as const;
      const text = joined({ ...finding, reasons: [headline, ...finding.reasons] });
      expect(text).toContain(`*Runbook* (\`${id}\`) ${runbook}`);
    },
  );

  it("a forged finding from the topic gets no link for techniques outside the catalogue and no runbook for an unknown rule", () => {
    const finding = findingFrom(loadAuditJson("kubectl-debug-legacy-profile"));
    const forged: Finding = {
      ...finding,
      techniques: ["<!channel>", "T9999|<https://evil.example|x>", "__proto__"],
      reasons: [{ id: "__proto__", severity: "critical", effect: "floor", text: "<!here> pwned" }],
    };
    const message = findingSlackMessage(forged, options);
    const text = allTexts(message).join("\n");
    expect(text).not.toContain("*ATT&amp;CK*");
    expect(text).not.toContain("*Runbook*");
    expectInert(message);
    expectWithinSlackLimits(message);
  });
});

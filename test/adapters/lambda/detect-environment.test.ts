import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../../../functions/adapters/lambda/configuration.ts";
import {
  DEFAULT_IDEMPOTENCY_TTL_SECONDS,
  parseDetectEnvironment,
} from "../../../functions/adapters/lambda/detect-environment.ts";
import { DEFAULT_PROTECTED_NAMESPACES } from "../../../functions/core/detection-config.ts";

const DEPLOYED = {
  ALERTS_TOPIC_ARN: "arn:aws:sns:eu-west-1:111122223333:ephemeral-guard-prod-alerts",
  IDEMPOTENCY_TABLE: "ephemeral-guard-prod-IdempotencyTable-ABC",
};

describe("detect environment", () => {
  it("reads what serverless.yml sets: empty parameters mean none, protected namespaces keep the defaults", () => {
    const environment = parseDetectEnvironment({
      ...DEPLOYED,
      EXCLUDED_USERS: "",
      EXCLUDED_GROUPS: " ci-robots , ,auditors",
      PROTECTED_NAMESPACES: "",
      TRUSTED_DEBUGGER_USERS: "alice@example.com",
      TRUSTED_DEBUGGER_GROUPS: "",
    });
    expect(environment.publish).toEqual({
      mode: "sns",
      topicArn: DEPLOYED.ALERTS_TOPIC_ARN,
      idempotency: {
        tableName: DEPLOYED.IDEMPOTENCY_TABLE,
        expiresAfterSeconds: DEFAULT_IDEMPOTENCY_TTL_SECONDS,
        keyPrefix: "ephemeral-guard.detect",
      },
    });
    expect(environment.detection).toMatchObject({
      excludedUsers: [],
      excludedGroups: ["ci-robots", "auditors"],
      protectedNamespaces: [...DEFAULT_PROTECTED_NAMESPACES],
      trustedDebuggers: { users: ["alice@example.com"], groups: [] },
    });
  });

  it("replaces the protected namespaces when given, and names the cluster for bare audit events", () => {
    const environment = parseDetectEnvironment({
      ...DEPLOYED,
      PROTECTED_NAMESPACES: "payments,kube-system",
      CLUSTER_NAME: "prod-eu",
    });
    expect(environment.detection.protectedNamespaces).toEqual(["payments", "kube-system"]);
    expect(environment.detection.cluster).toBe("prod-eu");
  });

  it("refuses to start without a topic and table unless told to print (local mode)", () => {
    expect(() => parseDetectEnvironment({ IDEMPOTENCY_TABLE: "t" })).toThrow(ConfigurationError);
    expect(() => parseDetectEnvironment({ IDEMPOTENCY_TABLE: "t" })).toThrow(/ALERTS_TOPIC_ARN is required/);
    expect(parseDetectEnvironment({ PUBLISH_MODE: "stdout" }).publish).toEqual({ mode: "stdout" });
  });

  it("refuses the local mode inside a real Lambda runtime, where it would drop every alert", () => {
    expect(() =>
      parseDetectEnvironment({
        ...DEPLOYED,
        PUBLISH_MODE: "stdout",
        AWS_LAMBDA_RUNTIME_API: "127.0.0.1:9001",
      }),
    ).toThrow(/local mode/);
  });

  it("turns storm control on with the storm table, with the budget and window of the deploy parameters", () => {
    const withStorm = parseDetectEnvironment({ ...DEPLOYED, STORM_TABLE: "storm", STORM_BUDGET: "50" });
    expect(withStorm.publish).toMatchObject({ storm: { tableName: "storm", budget: 50, windowMinutes: 5 } });
    expect(parseDetectEnvironment({ ...DEPLOYED, STORM_TABLE: "" }).publish).not.toHaveProperty("storm");
    for (const [name, value] of [
      ["STORM_BUDGET", "0"],
      ["STORM_BUDGET", "twenty"],
      ["STORM_WINDOW_MINUTES", "0"],
      ["STORM_WINDOW_MINUTES", "61"],
    ] as const) {
      expect(() => parseDetectEnvironment({ ...DEPLOYED, STORM_TABLE: "storm", [name]: value })).toThrow(
        new RegExp(name),
      );
    }
  });

  it("rejects values that would silently change behaviour", () => {
    expect(() => parseDetectEnvironment({ ...DEPLOYED, PUBLISH_MODE: "SNS" })).toThrow(/PUBLISH_MODE/);
    expect(() => parseDetectEnvironment({ ...DEPLOYED, IDEMPOTENCY_TTL_SECONDS: "ten" })).toThrow(
      /IDEMPOTENCY_TTL_SECONDS/,
    );
  });

  it("reads rule overrides from RULE_OVERRIDES (the ruleOverrides deploy parameter); empty means none", () => {
    const tuned = parseDetectEnvironment({
      ...DEPLOYED,
      RULE_OVERRIDES:
        '{"actor.non-kubectl-client":{"enabled":false},"container.run-as-root":{"level":"High"}}',
    });
    expect(tuned.detection.rules).toEqual({
      "actor.non-kubectl-client": { enabled: false },
      "container.run-as-root": { level: "high" },
    });
    expect(parseDetectEnvironment({ ...DEPLOYED, RULE_OVERRIDES: "" }).detection.rules).toBeUndefined();
    expect(parseDetectEnvironment(DEPLOYED).detection.rules).toBeUndefined();
  });

  it("fails init on rule overrides that are no JSON, name no rule, or lower a pinned rule, naming RULE_OVERRIDES", () => {
    const failure = (value: string) => {
      try {
        parseDetectEnvironment({ ...DEPLOYED, RULE_OVERRIDES: value });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        return (error as Error).message;
      }
      throw new Error(`RULE_OVERRIDES=${value} was accepted`);
    };
    expect(failure("{actor.non-kubectl-client: off}")).toMatch(
      /^detect is misconfigured: RULE_OVERRIDES: not JSON \(.+\): give an object such as/,
    );
    expect(failure('{"actor.non-kubect-client":{"enabled":false}}')).toBe(
      'detect is misconfigured: RULE_OVERRIDES actor.non-kubect-client: unknown rule "actor.non-kubect-client": did you mean "actor.non-kubectl-client"? (`ephemeral-guard rules` lists them)',
    );
    expect(failure('{"container.privileged":{"level":"high"}}')).toContain(
      "RULE_OVERRIDES container.privileged.level: container.privileged is pinned at critical: it cannot be lowered to high",
    );
    expect(failure('["container.privileged"]')).toContain("RULE_OVERRIDES");
  });
});

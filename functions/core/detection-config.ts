import * as z from "zod";
import { RuleOverridesSchema } from "./rule-overrides.ts";

/** Identities the detector never reports: kubelets and kube-system controllers. Configuration adds to these. */
export const DEFAULT_EXCLUDED_USERS = ["system:node:*", "system:serviceaccount:kube-system:*"] as const;
export const DEFAULT_PROTECTED_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"] as const;

const patternList = z.array(z.string().min(1));

/**
 * Everything the pure core can be told. The CLI reads it from a JSON file, the Lambda from its environment;
 * both end up here. Unknown keys are errors so that a typo does not silently disable an exclusion.
 */
export const DetectionConfigSchema = z.strictObject({
  /** Extra usernames (glob `*` allowed) excluded on top of DEFAULT_EXCLUDED_USERS. */
  excludedUsers: patternList.default([]),
  /** Groups whose members are excluded entirely. Empty by default. */
  excludedGroups: patternList.default([]),
  /** Namespaces whose pods make any write at least high. Replaces the default list when given. */
  protectedNamespaces: patternList.default([...DEFAULT_PROTECTED_NAMESPACES]),
  /** Trusted debuggers: their writes go one level down (never below low, never below privileged's level). */
  trustedDebuggers: z
    .strictObject({
      users: patternList.default([]),
      groups: patternList.default([]),
    })
    .default({ users: [], groups: [] }),
  /** Cluster name to put in findings when the input does not carry a log group (plain JSON Lines). */
  cluster: z.string().min(1).optional(),
  /**
   * Rules switched off or re-levelled, by rule id (rule-overrides.ts says what is accepted). Absent rather
   * than empty by default: scoring then uses the rules table as it is.
   */
  rules: RuleOverridesSchema.optional(),
});
export type DetectionConfig = z.infer<typeof DetectionConfigSchema>;
export type DetectionConfigInput = z.input<typeof DetectionConfigSchema>;

export function detectionConfig(input: DetectionConfigInput = {}): DetectionConfig {
  return DetectionConfigSchema.parse(input);
}

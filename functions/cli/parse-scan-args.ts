import { parseArgs } from "node:util";
import { z } from "zod";
import { OCSF_SCHEMA_VERSION } from "../core/ocsf-finding.ts";
import { SeveritySchema } from "../core/severity.ts";

export const USAGE = `usage: ephemeral-guard scan [--format text|json|ocsf] [--config FILE] [--min-severity LEVEL]
                           [--cluster NAME] [--log-group NAME] [PATH|- ...]

Scans Kubernetes audit events for writes to pods/ephemeralcontainers and prints scored findings.
Each PATH is a file or a directory (read recursively); - reads standard input; no PATH reads standard input.
Inputs are recognised by content: JSON Lines audit logs (optionally gzip'd), a single audit event or EventList,
a CloudWatch Logs subscription event {"awslogs":{"data":…}} or its decoded data message, and the output of
'aws logs filter-log-events'.

  --format text|json|ocsf
                        text (default): a readable summary, coloured on a terminal;
                        json: one finding per line on stdout and nothing else;
                        ocsf: one OCSF ${OCSF_SCHEMA_VERSION} Detection Finding (class 2004) per line, nothing else
  --config FILE         detection configuration (JSON): excludedUsers, excludedGroups, protectedNamespaces,
                        trustedDebuggers {users, groups}, cluster, rules {ID: {enabled, level}}
                        (ephemeral-guard rules --config FILE checks it)
  --min-severity LEVEL  print only findings at or above info|low|medium|high|critical (default info)
  --cluster NAME        cluster name for inputs that do not carry a log group
  --log-group NAME      log group for inputs that do not carry one (/aws/eks/NAME/cluster names the cluster)

Exit status: 0 when every input was read, 2 when some input could not be read (findings are printed either way),
1 on a usage or configuration error.`;

export const ScanOptionsSchema = z.object({
  format: z.enum(["text", "json", "ocsf"]).default("text"),
  config: z.string().optional(),
  minSeverity: SeveritySchema.default("info"),
  cluster: z.string().min(1).optional(),
  logGroup: z.string().min(1).optional(),
  help: z.boolean().default(false),
  paths: z.array(z.string()),
});
export type ScanOptions = z.infer<typeof ScanOptionsSchema>;

export class UsageError extends Error {
  override name = "UsageError";
}

export function parseScanArgs(argv: readonly string[]): ScanOptions {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        format: { type: "string" },
        config: { type: "string" },
        "min-severity": { type: "string" },
        cluster: { type: "string" },
        "log-group": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const result = ScanOptionsSchema.safeParse({
    format: values.format,
    config: values.config,
    minSeverity: values["min-severity"],
    cluster: values.cluster,
    logGroup: values["log-group"],
    help: values.help,
    paths: positionals,
  });
  if (!result.success) throw new UsageError(z.prettifyError(result.error));
  return result.data;
}

import { z } from "zod";
import { OCSF_SCHEMA_VERSION } from "../core/ocsf-finding.ts";
import {
  LevelOption,
  type OptionsConfig,
  parseCommandLine,
  TextOption,
  UsageError,
} from "./command-options.ts";
import { EXIT_STATUS_HELP } from "./exit-codes.ts";
import { FormatOption } from "./finding-formats.ts";
import { defaultSort, SortOption } from "./finding-output.ts";

export { UsageError };

export const USAGE = `usage: ephemeral-guard scan [--format text|json|ocsf] [--sort severity|time|input] [--min-severity LEVEL]
                           [--config FILE] [--cluster NAME] [--log-group NAME] [PATH|- ...]

Scans Kubernetes audit events for writes to pods/ephemeralcontainers and prints scored findings.
Each PATH is a file or a directory (read recursively); - reads standard input; no PATH reads standard input
(on a terminal, a scan with no PATH prints this usage instead of waiting).
Inputs are recognised by content: JSON Lines audit logs (optionally gzip'd), a single audit event or EventList
(pretty-printed or on one line), a CloudWatch Logs subscription event {"awslogs":{"data":…}} or its decoded
data message, and the output of 'aws logs filter-log-events'.

  --format text|json|ocsf
                        text (default): a readable summary, coloured on a terminal (NO_COLOR, FORCE_COLOR);
                        json: one finding per line on stdout and nothing else;
                        ocsf: one OCSF ${OCSF_SCHEMA_VERSION} Detection Finding (class 2004) per line, nothing else
  --sort severity|time|input
                        severity: most severe first, then by time (default for text);
                        time: by the audit event's time;
                        input: in the order read, printed as found (default for json and ocsf)
  --min-severity LEVEL  print only findings at or above info|low|medium|high|critical, any case (default info)
  --config FILE         detection configuration (JSON): excludedUsers, excludedGroups, protectedNamespaces,
                        trustedDebuggers {users, groups}, cluster, rules {ID: {enabled, level}}
                        (ephemeral-guard rules --config FILE checks it)
  --cluster NAME        cluster name for inputs that do not carry a log group
  --log-group NAME      log group for inputs that do not carry one (/aws/eks/NAME/cluster names the cluster)

Problems, progress (on a terminal, for long inputs) and the summary go to stderr; stdout holds findings only.

Examples:
  ephemeral-guard scan events/
  ephemeral-guard scan --min-severity high /var/log/kubernetes/audit.log.1.gz
  ephemeral-guard scan --format json --cluster prod - < audit.log | jq -r .severity
  ephemeral-guard scan --format ocsf --cluster prod audit/ > findings.ocsf.jsonl

${EXIT_STATUS_HELP}`;

const OPTIONS: OptionsConfig = {
  format: { type: "string" },
  sort: { type: "string" },
  config: { type: "string" },
  "min-severity": { type: "string" },
  cluster: { type: "string" },
  "log-group": { type: "string" },
  help: { type: "boolean", short: "h" },
};

export const ScanOptionsSchema = z
  .object({
    format: FormatOption.default("text"),
    sort: SortOption.optional(),
    config: TextOption.optional(),
    "min-severity": LevelOption.default("info"),
    cluster: TextOption.optional(),
    "log-group": TextOption.optional(),
    help: z.boolean().default(false),
    PATH: z.array(z.string()),
  })
  .transform((options) => ({
    format: options.format,
    sort: options.sort ?? defaultSort(options.format),
    config: options.config,
    minSeverity: options["min-severity"],
    cluster: options.cluster,
    logGroup: options["log-group"],
    help: options.help,
    paths: options.PATH,
  }));
export type ScanOptions = z.output<typeof ScanOptionsSchema>;

export function parseScanArgs(argv: readonly string[]): ScanOptions {
  return parseCommandLine(argv, OPTIONS, ScanOptionsSchema, "PATH");
}

import { z } from "zod";
import { choice, LevelOption, type OptionsConfig, parseCommandLine, TextOption } from "./command-options.ts";
import { EXIT_STATUS_HELP } from "./exit-codes.ts";
import { FormatOption } from "./finding-formats.ts";

export const HUNT_USAGE = `usage: ephemeral-guard hunt [--cluster NAME ... | --all-clusters] [--region R] [--since 7d | --start ISO]
                           [--end ISO] [--engine filter|insights] [--format text|json|ocsf] [--min-severity LEVEL]
                           [--config FILE] [--publish] [--resume FILE]

Runs the detector over the EKS audit logs kept in CloudWatch Logs (/aws/eks/<cluster>/cluster) and prints the
findings as 'scan' does, as they are found. AWS credentials, region and endpoints come from the SDK's standard
chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL_EKS).

  --cluster NAME          a cluster to search (repeatable)
  --all-clusters          every cluster EKS lists in the region
  --region R              the AWS region (default: the SDK's chain)
  --since DURATION        how far back: 90m, 36h, 7d, 2w (default 1d); or
  --start ISO             from this time (2026-11-24 or 2026-11-24T03:00:00Z; a time needs Z or an offset)
  --end ISO               up to this time (default: now)
  --engine filter|insights
                          filter (default): FilterLogEvents with the subscription's filter pattern, page by page;
                          insights: CloudWatch Logs Insights, up to 50 log groups per query, for long ranges
  --format text|json|ocsf as scan: text (default), or one finding (json) or OCSF Detection Finding (ocsf) per
                          line on stdout and nothing else
  --min-severity LEVEL    print only findings at or above info|low|medium|high|critical, any case (default info)
  --config FILE           detection configuration (JSON), as scan
  --publish               also publish every finding to the alerts topic, exactly once across runs and with
                          detect (ALERTS_TOPIC_ARN, IDEMPOTENCY_TABLE, IDEMPOTENCY_KEY_PREFIX from the environment;
                          the topic's policy lets only the roles in the stack's alertPublishers publish)
  --resume FILE           keep where the hunt stands in FILE and continue from it if it exists: clusters, range
                          and engine then come from FILE (pass --config, --format, --publish again)

Progress goes to stderr when it is a terminal; the summary always does. Ctrl-C stops cleanly and says how to
resume (exit 130). A missing or unreadable log group, or a hunt stopped by AWS errors, exits 2 after the rest
was read.

Examples:
  ephemeral-guard hunt --cluster prod --since 7d
  ephemeral-guard hunt --all-clusters --region eu-west-1 --start 2026-11-01 --end 2026-11-08T12:00:00Z --format json
  ephemeral-guard hunt --all-clusters --since 90d --engine insights --resume hunt-90d.json

${EXIT_STATUS_HELP}`;

/** EKS cluster names: letters, digits, - and _, starting with a letter or digit, at most 100 characters. */
const ClusterNameSchema = z
  .string()
  .regex(
    /^[0-9A-Za-z][0-9A-Za-z_-]{0,99}$/,
    "not an EKS cluster name (letters, digits, - and _; at most 100)",
  );

const DURATION_UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
/** Longer than any log retention CloudWatch offers (10 years). */
const MAX_DURATION_MS = 11 * 365 * 86_400_000;

const DurationSchema = z.string().transform((value, context) => {
  const match = /^(\d{1,6})([smhdw])$/.exec(value);
  const ms = match ? Number(match[1]) * (DURATION_UNITS[match[2] ?? ""] ?? 0) : 0;
  if (ms <= 0 || ms > MAX_DURATION_MS) {
    context.addIssue({ code: "custom", message: `not a duration like 90m, 36h, 7d or 2w: ${value}` });
    return z.NEVER;
  }
  return ms;
});

/**
 * A date, or a date and time with Z or an offset. A time without one would be read in the machine's zone, so
 * the same command would hunt different hours on different machines: refused.
 */
const InstantSchema = z.string().transform((value, context) => {
  const shape = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
  const ms = shape.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    context.addIssue({
      code: "custom",
      message: `not a date (2026-11-24) or a time with Z or an offset (2026-11-24T03:00:00Z): ${value}`,
    });
    return z.NEVER;
  }
  return ms;
});

export const HuntOptionsSchema = z
  .object({
    cluster: z.array(ClusterNameSchema).default([]),
    "all-clusters": z.boolean().default(false),
    region: TextOption.optional(),
    since: DurationSchema.optional(),
    start: InstantSchema.optional(),
    end: InstantSchema.optional(),
    engine: choice(["filter", "insights"], "an engine").default("filter"),
    format: FormatOption.default("text"),
    "min-severity": LevelOption.default("info"),
    config: TextOption.optional(),
    publish: z.boolean().default(false),
    resume: TextOption.optional(),
    help: z.boolean().default(false),
  })
  .superRefine((options, context) => {
    if (options["all-clusters"] && options.cluster.length > 0) {
      context.addIssue({ code: "custom", message: "--cluster and --all-clusters exclude each other" });
    }
    if (options.since !== undefined && options.start !== undefined) {
      context.addIssue({ code: "custom", message: "--since and --start exclude each other" });
    }
    if (
      !options.help &&
      !options["all-clusters"] &&
      options.cluster.length === 0 &&
      options.resume === undefined
    ) {
      context.addIssue({
        code: "custom",
        message: "name the clusters: --cluster NAME (repeatable) or --all-clusters",
      });
    }
  })
  .transform((options) => ({
    clusters: options.cluster,
    allClusters: options["all-clusters"],
    region: options.region,
    sinceMs: options.since,
    startMs: options.start,
    endMs: options.end,
    engine: options.engine,
    format: options.format,
    minSeverity: options["min-severity"],
    config: options.config,
    publish: options.publish,
    resume: options.resume,
    help: options.help,
  }));
export type HuntOptions = z.output<typeof HuntOptionsSchema>;

/** Options that describe the search itself; a resume file already holds them. */
export const SEARCH_OPTIONS = [
  "--cluster",
  "--all-clusters",
  "--region",
  "--since",
  "--start",
  "--end",
  "--engine",
];

const OPTIONS: OptionsConfig = {
  cluster: { type: "string", multiple: true },
  "all-clusters": { type: "boolean" },
  region: { type: "string" },
  since: { type: "string" },
  start: { type: "string" },
  end: { type: "string" },
  engine: { type: "string" },
  format: { type: "string" },
  "min-severity": { type: "string" },
  config: { type: "string" },
  publish: { type: "boolean" },
  resume: { type: "string" },
  help: { type: "boolean", short: "h" },
};

export function parseHuntArgs(argv: readonly string[]): HuntOptions {
  return parseCommandLine(argv, OPTIONS, HuntOptionsSchema);
}

/** Whether the command line described the search (clusters, range, engine, region) itself. */
export function describesSearch(argv: readonly string[]): string[] {
  return SEARCH_OPTIONS.filter((option) =>
    argv.some((arg) => arg === option || arg.startsWith(`${option}=`)),
  );
}

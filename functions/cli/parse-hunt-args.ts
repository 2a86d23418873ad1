import { parseArgs } from "node:util";
import { z } from "zod";
import { SeveritySchema } from "../core/severity.ts";
import { UsageError } from "./parse-scan-args.ts";

export const HUNT_USAGE = `usage: ephemeral-guard hunt [--cluster NAME ... | --all-clusters] [--region R] [--since 7d | --start ISO]
                           [--end ISO] [--engine filter|insights] [--format text|json] [--min-severity LEVEL]
                           [--config FILE] [--publish] [--resume FILE]

Runs the detector over the EKS audit logs kept in CloudWatch Logs (/aws/eks/<cluster>/cluster) and prints the
findings as 'scan' does. AWS credentials, region and endpoints come from the SDK's standard chain (AWS_PROFILE,
AWS_REGION, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL_EKS).

  --cluster NAME          a cluster to search (repeatable)
  --all-clusters          every cluster EKS lists in the region
  --region R              the AWS region (default: the SDK's chain)
  --since DURATION        how far back: 90m, 36h, 7d, 2w (default 1d); or
  --start ISO             from this time (2026-11-24 or 2026-11-24T03:00:00Z; a time needs Z or an offset)
  --end ISO               up to this time (default: now)
  --engine filter|insights
                          filter (default): FilterLogEvents with the subscription's filter pattern, page by page;
                          insights: CloudWatch Logs Insights, up to 50 log groups per query, for long ranges
  --format text|json      as scan: text (default), or one finding per line on stdout and nothing else
  --min-severity LEVEL    print only findings at or above info|low|medium|high|critical (default info)
  --config FILE           detection configuration (JSON), as scan
  --publish               also publish every finding to the alerts topic, exactly once across runs and with
                          detect (ALERTS_TOPIC_ARN, IDEMPOTENCY_TABLE, IDEMPOTENCY_KEY_PREFIX from the environment)
  --resume FILE           keep where the hunt stands in FILE and continue from it if it exists: clusters, range
                          and engine then come from FILE (pass --config, --format, --publish again)

Progress goes to stderr when it is a terminal; the summary always does. Ctrl-C stops cleanly and says how to
resume. Exit status: 0 when everything was read, 2 when something could not be read (findings are printed
either way), 1 on a usage or configuration error, 130 when interrupted.`;

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
    clusters: z.array(ClusterNameSchema),
    allClusters: z.boolean().default(false),
    region: z.string().min(1).optional(),
    sinceMs: DurationSchema.optional(),
    startMs: InstantSchema.optional(),
    endMs: InstantSchema.optional(),
    engine: z.enum(["filter", "insights"]).default("filter"),
    format: z.enum(["text", "json"]).default("text"),
    minSeverity: SeveritySchema.default("info"),
    config: z.string().optional(),
    publish: z.boolean().default(false),
    resume: z.string().min(1).optional(),
    help: z.boolean().default(false),
  })
  .superRefine((options, context) => {
    if (options.allClusters && options.clusters.length > 0) {
      context.addIssue({ code: "custom", message: "--cluster and --all-clusters exclude each other" });
    }
    if (options.sinceMs !== undefined && options.startMs !== undefined) {
      context.addIssue({ code: "custom", message: "--since and --start exclude each other" });
    }
    if (
      !options.help &&
      !options.allClusters &&
      options.clusters.length === 0 &&
      options.resume === undefined
    ) {
      context.addIssue({
        code: "custom",
        message: "name the clusters: --cluster NAME (repeatable) or --all-clusters",
      });
    }
  });
export type HuntOptions = z.infer<typeof HuntOptionsSchema>;

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

export function parseHuntArgs(argv: readonly string[]): HuntOptions {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
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
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  const result = HuntOptionsSchema.safeParse({
    clusters: values.cluster ?? [],
    allClusters: values["all-clusters"],
    region: values.region,
    sinceMs: values.since,
    startMs: values.start,
    endMs: values.end,
    engine: values.engine,
    format: values.format,
    minSeverity: values["min-severity"],
    config: values.config,
    publish: values.publish,
    resume: values.resume,
    help: values.help,
  });
  if (!result.success) throw new UsageError(z.prettifyError(result.error));
  return result.data;
}

/** Whether the command line described the search (clusters, range, engine, region) itself. */
export function describesSearch(argv: readonly string[]): string[] {
  return SEARCH_OPTIONS.filter((option) =>
    argv.some((arg) => arg === option || arg.startsWith(`${option}=`)),
  );
}

import { type ParseArgsConfig, parseArgs } from "node:util";
import { z } from "zod";
import { SEVERITIES } from "../core/severity.ts";

/**
 * How every command reads its command line: node's parseArgs (strict: an unknown option is an error), then one
 * zod schema whose keys are the options' own names (`min-severity`, not `minSeverity`) and the positionals'
 * placeholder (`PATH`), so that every message names what the user typed and never an internal field.
 */

/** A wrong command line. Its message is for the user: it names options as typed. */
export class UsageError extends Error {
  override name = "UsageError";
}

export type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** At most this much of a wrong value is quoted back. */
const MAX_QUOTED = 80;

export function quote(value: unknown): string {
  const text = typeof value === "string" ? value : String(value);
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);
}

/** "a, b or c" */
export function orList(values: readonly string[]): string {
  return values.length <= 1 ? values.join("") : `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
}

/** One value out of a fixed list, case-insensitive (`--min-severity HIGH` is `high`). */
export function choice<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  return z
    .string()
    .transform((value) => value.trim().toLowerCase())
    .pipe(
      z.enum(values, { error: (issue) => `${quote(issue.input)} is not ${what}: use ${orList(values)}` }),
    );
}

/** A severity level, any case. */
export const LevelOption = choice(SEVERITIES, "a severity level");

/** A whole number in [min, max], given as text. */
export function wholeNumber(min: number, max: number) {
  return z
    .string()
    .refine((value) => /^\d{1,9}$/.test(value.trim()), {
      error: (issue) => `${quote(issue.input)} is not a whole number`,
    })
    .transform((value) => Number(value.trim()))
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** A non-empty text value. */
export const TextOption = z.string().trim().min(1, "must not be empty");

function issueLine(issue: z.core.$ZodIssue, positional: string | undefined): string {
  const [first] = issue.path;
  if (typeof first !== "string") return issue.message;
  return first === positional ? `${first}: ${issue.message}` : `--${first}: ${issue.message}`;
}

/** Every problem of a parse, one per line, each naming its option. */
export function describeOptionIssues(error: z.ZodError, positional?: string): string {
  return [...new Set(error.issues.map((issue) => issueLine(issue, positional)))].join("\n");
}

/**
 * Parses `argv` against `options` (parseArgs) and `schema`. `positional` names the positionals' key in the
 * schema (e.g. `PATH`); without it, positionals are refused.
 */
export function parseCommandLine<S extends z.ZodType>(
  argv: readonly string[],
  options: OptionsConfig,
  schema: S,
  positional?: string,
): z.output<S> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: positional !== undefined,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const input: Record<string, unknown> = { ...parsed.values };
  if (positional !== undefined) input[positional] = parsed.positionals;
  const result = schema.safeParse(input);
  if (!result.success) throw new UsageError(describeOptionIssues(result.error, positional));
  return result.data;
}

/** Whether the command line asks for help (before a `--` that ends the options). */
export function asksForHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (arg === "--help" || arg === "-h") return true;
  }
  return false;
}

/** The usage's first paragraph: the synopsis, shown after a usage error (the whole text is --help's). */
export function synopsis(usage: string): string {
  return usage.split("\n\n")[0] ?? usage;
}

import type * as z from "zod";

/**
 * Every function reads its environment the same way: one zod schema, parsed once per container, and a wrong
 * value is a ConfigurationError that names the function and every problem, so a typo in a deploy parameter
 * fails loudly instead of leaving a function half-configured.
 */
export class ConfigurationError extends Error {
  constructor(
    readonly service: string,
    readonly issues: readonly string[],
  ) {
    super(`${service} is misconfigured: ${issues.join("; ")}`);
    this.name = "ConfigurationError";
  }
}

/** `PATH.TO.FIELD: message` for each zod issue. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) =>
    issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message,
  );
}

/** Parses `env` with `schema` or throws ConfigurationError for `service`. */
export function parseEnvironment<S extends z.ZodType>(
  service: string,
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new ConfigurationError(service, describeIssues(parsed.error));
  return parsed.data;
}

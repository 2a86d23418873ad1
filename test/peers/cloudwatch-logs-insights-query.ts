/**
 * The part of the CloudWatch Logs Insights query language the loopback peer runs: commands joined by `|`,
 *
 *   fields @timestamp, @message, @logStream, @log
 *   | filter @message like "text"        (or like /regex/)
 *   | sort @timestamp asc                (or desc)
 *   | limit 10000
 *
 * Anything else is refused with MalformedQueryError (the service's MalformedQueryException), so a test never
 * passes against a query the peer only pretended to run.
 */

export class MalformedQueryError extends Error {
  override name = "MalformedQueryError";
}

export interface InsightsQuery {
  fields: string[];
  /** Every filter must match. */
  filters: Array<(message: string) => boolean>;
  sort?: "asc" | "desc";
  limit?: number;
}

/** Fields the peer can produce for a log event. */
export const INSIGHTS_FIELDS = ["@timestamp", "@message", "@logStream", "@log", "@ingestionTime"] as const;

function parseFilter(argument: string): (message: string) => boolean {
  const like = /^@message\s+like\s+(?:"((?:[^"\\]|\\.)*)"|\/((?:[^/\\]|\\.)*)\/)$/.exec(argument);
  if (!like) throw new MalformedQueryError(`unsupported filter: ${argument}`);
  if (like[1] !== undefined) {
    const text = JSON.parse(`"${like[1]}"`) as string;
    return (message) => message.includes(text);
  }
  const pattern = new RegExp(like[2] ?? "");
  return (message) => pattern.test(message);
}

export function parseInsightsQuery(queryString: string): InsightsQuery {
  const query: InsightsQuery = { fields: [], filters: [] };
  // A `|` inside a quoted or /…/ filter argument is not a command separator.
  const commands = queryString.match(/(?:"(?:[^"\\]|\\.)*"|\/(?:[^/\\]|\\.)*\/|[^|])+/g) ?? [];
  for (const raw of commands) {
    const command = raw.trim();
    if (command === "") throw new MalformedQueryError("empty command");
    const [, name, argument = ""] = /^(\w+)\s*(.*)$/s.exec(command) ?? [];
    if (name === "fields") {
      for (const field of argument.split(",").map((item) => item.trim())) {
        if (!(INSIGHTS_FIELDS as readonly string[]).includes(field)) {
          throw new MalformedQueryError(`unsupported field: ${field}`);
        }
        query.fields.push(field);
      }
    } else if (name === "filter") {
      query.filters.push(parseFilter(argument.trim()));
    } else if (name === "sort") {
      const sort = /^@timestamp\s+(asc|desc)$/.exec(argument.trim());
      if (!sort) throw new MalformedQueryError(`unsupported sort: ${argument}`);
      query.sort = sort[1] as "asc" | "desc";
    } else if (name === "limit") {
      const limit = Number(argument.trim());
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw new MalformedQueryError(`limit must be 1..10000: ${argument}`);
      }
      query.limit = limit;
    } else {
      throw new MalformedQueryError(`unsupported command: ${command}`);
    }
  }
  if (query.fields.length === 0) query.fields.push("@timestamp", "@message");
  return query;
}

import type { DecodedInput } from "./log-record.ts";

/** How large one slice may be: records, and characters of record text. */
export interface SliceLimits {
  records: number;
  chars: number;
}

/**
 * One decoded input as slices of at most `limits.records` records and (past its first record) at most
 * `limits.chars` characters of record text, for callers that detect and hand on findings slice by slice: a
 * delivery of 100,000 small writes would otherwise hold 100,000 findings at once, and a finding can keep
 * strings parsed from its record alive until it is handed on. The first slice carries the input's problems and
 * control messages, so a Detector that ingests every slice counts them once.
 */
export function* slicesOf(decoded: DecodedInput, limits: SliceLimits): Generator<DecodedInput> {
  if (!Number.isInteger(limits.records) || limits.records < 1)
    throw new RangeError(`records per slice must be a positive integer: ${limits.records}`);
  const records = decoded.records;
  let start = 0;
  let first = true;
  while (first || start < records.length) {
    let end = start;
    let chars = 0;
    while (end < records.length && end - start < limits.records) {
      const length = records[end]?.text?.length ?? 0;
      if (end > start && chars + length > limits.chars) break;
      chars += length;
      end++;
    }
    yield first
      ? { ...decoded, records: records.slice(start, end) }
      : { form: decoded.form, records: records.slice(start, end), problems: [], controlMessages: 0 };
    first = false;
    start = end;
  }
}

import {
  type AwsSecurityFinding,
  BatchImportFindingsCommand,
  type ImportFindingsError,
  type SecurityHubClient,
} from "@aws-sdk/client-securityhub";

/** BatchImportFindings takes at most 100 findings per call (and 6 MB; 100 findings under 240 KB fit). */
export const MAX_FINDINGS_PER_IMPORT = 100;

/**
 * Security Hub did not take every finding: thrown so that Lambda retries the delivery. Safe to retry: the
 * finding Ids are derived from cluster and auditID, so findings already imported are updated, not duplicated.
 */
export class SecurityHubImportError extends Error {
  constructor(
    message: string,
    readonly failed: readonly ImportFindingsError[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SecurityHubImportError";
  }
}

export interface ImportSummary {
  imported: number;
  calls: number;
}

/**
 * Imports the findings in batches of 100. A call that fails, or answers with FailedFindings (its partial
 * failure: the call itself succeeds), fails the whole import, after the remaining batches were still tried so
 * that one bad finding does not hold the others back.
 */
export async function importFindings(
  client: SecurityHubClient,
  findings: readonly AwsSecurityFinding[],
): Promise<ImportSummary> {
  const failed: ImportFindingsError[] = [];
  const errors: unknown[] = [];
  let imported = 0;
  let calls = 0;
  for (let start = 0; start < findings.length; start += MAX_FINDINGS_PER_IMPORT) {
    const batch = findings.slice(start, start + MAX_FINDINGS_PER_IMPORT);
    calls++;
    try {
      const answer = await client.send(new BatchImportFindingsCommand({ Findings: batch }));
      imported += answer.SuccessCount ?? 0;
      const refused = answer.FailedFindings ?? [];
      failed.push(...refused);
      // A count without the list still means findings were not taken.
      const unlisted = (answer.FailedCount ?? 0) - refused.length;
      for (let index = 0; index < unlisted; index++) {
        failed.push({
          Id: "(not listed)",
          ErrorCode: "Unknown",
          ErrorMessage: "FailedCount without FailedFindings",
        });
      }
    } catch (error) {
      errors.push(error);
      for (const finding of batch) {
        failed.push({
          Id: finding.Id,
          ErrorCode: error instanceof Error ? error.name : "Error",
          ErrorMessage: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }
  if (failed.length > 0) {
    const [first] = failed;
    throw new SecurityHubImportError(
      `Security Hub did not import ${failed.length} of ${findings.length} finding(s); first: ${first?.Id} ${first?.ErrorCode}: ${first?.ErrorMessage}`,
      failed,
      errors.length > 0 ? { cause: errors[0] } : undefined,
    );
  }
  return { imported, calls };
}

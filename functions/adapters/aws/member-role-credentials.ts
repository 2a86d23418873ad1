import { AssumeRoleCommand, type AssumeRoleCommandOutput, type STSClient } from "@aws-sdk/client-sts";
import { type AwsCredentials, TOKEN_REUSE_MS } from "./eks-token.ts";

/**
 * Credentials of the member stack's remediation role in another account (or region) of the organization,
 * obtained with STS AssumeRole by the remediate function's own role and cached per role until shortly before
 * they expire. The member role trusts only the central remediate role, and only with the external id
 * (infra/member-remediation-role.cjs); what it may do is DescribeCluster and, through its EKS access entry,
 * get and delete pods.
 */

/** Temporary credentials with their expiry, as the SDK's credential providers return them. */
export interface TemporaryCredentials extends AwsCredentials {
  sessionToken: string;
  expiration: Date;
}

export interface MemberRoleSettings {
  /**
   * The role's name without its region: the member stack of each region creates `<roleName>-<region>`
   * (IAM names are global to an account, and a StackSet deploys one stack per region).
   */
  roleName: string;
  /** What the member role's trust policy requires as sts:ExternalId. */
  externalId: string;
}

/** An hour: the longest session STS grants to a role assumed with another role's credentials (role chaining). */
export const SESSION_SECONDS = 3_600;

/**
 * Credentials are renewed when less than this is left. It exceeds how long an EKS token is reused
 * (eks-token.ts), so a token presigned with cached credentials never outlives them.
 */
export const REFRESH_MARGIN_MS = TOKEN_REUSE_MS + 60_000;

/** The session name shows in the member account's CloudTrail (assumed-role/<role>/<session>). */
export const SESSION_NAME = "ephemeral-guard-remediate";

/** Roles kept in the cache at most: an organization's accounts × regions, with room to spare. */
export const MAX_CACHED_ROLES = 1_000;

export class MemberRoleError extends Error {
  constructor(
    message: string,
    readonly roleArn: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "MemberRoleError";
  }
}

/** `arn:<partition>:iam::<account>:role/<roleName>-<region>`: the member stack's role for that region. */
export function memberRoleArn(partition: string, account: string, roleName: string, region: string): string {
  return `arn:${partition}:iam::${account}:role/${roleName}-${region}`;
}

interface Entry {
  pending: Promise<TemporaryCredentials>;
  settled?: TemporaryCredentials;
}

export class MemberRoleCredentials {
  private readonly cache = new Map<string, Entry>();
  private readonly now: () => Date;

  constructor(
    private readonly sts: STSClient,
    private readonly settings: MemberRoleSettings,
    now?: () => Date,
  ) {
    this.now = now ?? (() => new Date());
  }

  get roleName(): string {
    return this.settings.roleName;
  }

  /**
   * The role's credentials: cached ones while more than REFRESH_MARGIN_MS is left, else a new AssumeRole.
   * Concurrent callers share one call; a failure is not cached, so the next finding asks again.
   */
  credentials(roleArn: string): Promise<TemporaryCredentials> {
    const entry = this.cache.get(roleArn);
    if (entry && (entry.settled === undefined || this.fresh(entry.settled))) return entry.pending;
    const fresh: Entry = { pending: this.assume(roleArn) };
    this.cache.delete(roleArn);
    if (this.cache.size >= MAX_CACHED_ROLES) {
      // The oldest entry first (Map keeps insertion order): it is the least likely to be needed again soon.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(roleArn, fresh);
    fresh.pending.then(
      (credentials) => {
        fresh.settled = credentials;
      },
      () => {
        if (this.cache.get(roleArn) === fresh) this.cache.delete(roleArn);
      },
    );
    return fresh.pending;
  }

  private fresh(credentials: TemporaryCredentials): boolean {
    return credentials.expiration.getTime() - this.now().getTime() > REFRESH_MARGIN_MS;
  }

  private async assume(roleArn: string): Promise<TemporaryCredentials> {
    let output: AssumeRoleCommandOutput;
    try {
      output = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: SESSION_NAME,
          ExternalId: this.settings.externalId,
          DurationSeconds: SESSION_SECONDS,
        }),
      );
    } catch (error) {
      const code = error instanceof Error ? error.name : "Error";
      throw new MemberRoleError(
        `STS AssumeRole ${roleArn} failed (${code}): ${error instanceof Error ? error.message : String(error)}`,
        roleArn,
        { cause: error },
      );
    }
    const credentials = output.Credentials;
    if (
      !credentials?.AccessKeyId ||
      !credentials.SecretAccessKey ||
      !credentials.SessionToken ||
      !(credentials.Expiration instanceof Date) ||
      Number.isNaN(credentials.Expiration.getTime())
    ) {
      throw new MemberRoleError(`STS AssumeRole ${roleArn} returned no usable credentials`, roleArn);
    }
    return {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
      sessionToken: credentials.SessionToken,
      expiration: credentials.Expiration,
    };
  }
}

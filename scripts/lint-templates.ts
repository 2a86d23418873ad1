// Packages every stack variant offline (osls: no credentials, no network), a few at a time, each in its own
// service folder (scripts/private-service-dir.ts), then runs AWS's CloudFormation linter (cfn-lint) on all the
// templates at once. Variants of serverless.yml are listed in infra/variants.json, those of the member stack
// (serverless.member.yml) in infra/variants.member.json.
// Exit status 1 when a variant does not package or cfn-lint reports anything infra/cfn-lint.yaml does not allow.
//
//   npm run lint:templates [-- VARIANT ...]      (default: every variant)
//
// LINT_TEMPLATES_CONCURRENCY overrides how many packagings run at once (default: the number of CPUs).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as z from "zod";
import { privateServiceDir } from "./private-service-dir.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
/** Each variants file and the Serverless configuration its variants package. */
const VARIANT_FILES = [
  { file: join("infra", "variants.json"), config: "serverless.yml" },
  { file: join("infra", "variants.member.json"), config: "serverless.member.yml" },
] as const;
const CFN_LINT_CONFIG = join(ROOT, "infra", "cfn-lint.yaml");
const TEMPLATE = "cloudformation-template-update-stack.json";

const VariantsSchema = z.object({
  variants: z
    .array(
      z.object({
        name: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "lower-case words joined by hyphens"),
        why: z.string().min(1),
        params: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/), z.string()),
      }),
    )
    .min(1)
    .refine(
      (list) => new Set(list.map((variant) => variant.name)).size === list.length,
      "names must be unique",
    ),
});
type Variant = z.infer<typeof VariantsSchema>["variants"][number] & { config: string };

/** What cfn-lint --format json prints for each finding (the fields used here). */
const FindingsSchema = z.array(
  z.object({
    Filename: z.string(),
    Level: z.string(),
    Message: z.string(),
    Rule: z.object({ Id: z.string() }),
    Location: z.object({ Path: z.array(z.union([z.string(), z.number()])).nullish() }).nullish(),
  }),
);

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  cwd = ROOT,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { cwd, env, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (error.code ?? 1) : 0;
        resolve({ code: typeof code === "number" || typeof code === "string" ? code : 1, stdout, stderr });
      },
    );
    // Nothing reads standard input (cfn-lint would wait on it for a template).
    child.stdin?.end();
  });
}

function loadVariants(names: string[]): Variant[] {
  const all: Variant[] = [];
  for (const { file, config } of VARIANT_FILES) {
    const parsed = VariantsSchema.safeParse(JSON.parse(readFileSync(join(ROOT, file), "utf8")));
    if (!parsed.success) throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
    all.push(...parsed.data.variants.map((variant) => ({ ...variant, config })));
  }
  const repeated = all.filter(
    (variant, index) => all.findIndex((other) => other.name === variant.name) < index,
  );
  if (repeated.length > 0) {
    throw new Error(
      `variant names must be unique across ${VARIANT_FILES.map(({ file }) => file).join(" and ")}: ${repeated.map((variant) => variant.name).join(", ")}`,
    );
  }
  const unknown = names.filter((name) => !all.some((variant) => variant.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `no variant ${unknown.join(", ")} in ${VARIANT_FILES.map(({ file }) => file).join(" or ")}`,
    );
  }
  return names.length === 0 ? all : all.filter((variant) => names.includes(variant.name));
}

function describe(variant: Variant): string {
  const params = Object.entries(variant.params).map(([name, value]) => `${name}=${value}`);
  return `${variant.name} [${variant.config}] (${params.length > 0 ? params.join(" ") : "defaults"})`;
}

/** `osls package` of one variant into `dir`; the output when it fails. */
async function packageVariant(variant: Variant, dir: string): Promise<string | undefined> {
  const args = [OSLS, "package", "--config", variant.config, "--stage", "lint", "--package", dir];
  for (const [name, value] of Object.entries(variant.params)) args.push(`--param=${name}=${value}`);
  const service = privateServiceDir(ROOT, `ephemeral-guard-lint-${variant.name}-`);
  try {
    const result = await run(process.execPath, args, service, {
      ...process.env,
      SLS_TELEMETRY_DISABLED: "1",
      SLS_NOTIFICATIONS_MODE: "off",
    });
    return result.code === 0 ? undefined : `${result.stdout}${result.stderr}`.trim();
  } finally {
    rmSync(service, { recursive: true, force: true });
  }
}

/** Runs `work` on each item, at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function main(names: string[]): Promise<number> {
  const variants = loadVariants(names);
  const version = await run("cfn-lint", ["--version"]);
  if (version.code !== 0) {
    console.error("cfn-lint is not installed: pip install cfn-lint (CI has 1.51).");
    return 1;
  }
  const limit = Number(process.env.LINT_TEMPLATES_CONCURRENCY) || availableParallelism();
  const out = mkdtempSync(join(tmpdir(), "ephemeral-guard-variants-"));
  const started = Date.now();
  const failures = await pool(variants, limit, (variant) => packageVariant(variant, join(out, variant.name)));
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  let failed = false;
  failures.forEach((failure, index) => {
    if (failure === undefined) return;
    failed = true;
    console.error(`\nvariant ${describe(variants[index] as Variant)} did not package:\n${failure}`);
  });
  console.log(
    `packaged ${variants.length - failures.filter(Boolean).length}/${variants.length} variants in ${seconds} s (${limit} at a time)`,
  );

  const packaged = variants.filter((_, index) => failures[index] === undefined);
  const templates = packaged.map((variant) => join(out, variant.name, TEMPLATE));
  if (templates.length === 0) {
    console.error(`\nNothing to lint. Output kept in ${out}`);
    return 1;
  }
  const lint = await run("cfn-lint", [
    "--config-file",
    CFN_LINT_CONFIG,
    "--format",
    "json",
    "--",
    ...templates,
  ]);
  let findings: z.infer<typeof FindingsSchema>;
  try {
    findings = FindingsSchema.parse(JSON.parse(lint.stdout || "[]"));
  } catch {
    console.error(`cfn-lint did not report (exit ${lint.code}):\n${lint.stdout}${lint.stderr}`);
    return 1;
  }
  for (const variant of packaged) {
    const own = findings.filter((finding) => finding.Filename === join(out, variant.name, TEMPLATE));
    if (own.length === 0) continue;
    failed = true;
    console.error(`\nvariant ${describe(variant)}: ${own.length} cfn-lint finding(s)`);
    for (const finding of own) {
      const path = (finding.Location?.Path ?? []).join("/");
      console.error(`  ${finding.Rule.Id} ${finding.Message}${path ? ` at ${path}` : ""}`);
    }
  }
  console.log(
    `${version.stdout.trim()}: ${findings.length} finding(s) in ${templates.length} template(s) (allowed checks: infra/cfn-lint.yaml)`,
  );
  if (failed) {
    console.error(`\nTemplates kept in ${out}`);
    return 1;
  }
  rmSync(out, { recursive: true, force: true });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);

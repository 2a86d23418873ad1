import { readFile } from "node:fs/promises";
import { z } from "zod";
import { errorMessage } from "../core/decode-cloudwatch.ts";
import { type DetectionConfig, DetectionConfigSchema } from "../core/detection-config.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The scanner's configuration file is the core's DetectionConfig as JSON; unknown keys are refused. */
export async function loadScanConfig(
  path: string | undefined,
  cluster: string | undefined,
): Promise<DetectionConfig> {
  let input: unknown = {};
  if (path !== undefined) {
    try {
      input = JSON.parse(await readFile(path, "utf8"));
    } catch (error) {
      throw new ConfigError(`${path}: ${errorMessage(error)}`);
    }
  }
  const parsed = DetectionConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`${path}: ${z.prettifyError(parsed.error)}`);
  return cluster ? { ...parsed.data, cluster } : parsed.data;
}

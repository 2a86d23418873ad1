import packageJson from "../../package.json" with { type: "json" };

/**
 * Who reports the findings, as OCSF `metadata.product` and ASFF `ProductName`/`CompanyName` say it. Read from
 * package.json at build time (bundled, no file read at run time) so a release bump changes every output
 * format at once. package.json names no author: the vendor is the project itself.
 */
export const PRODUCT = {
  name: packageJson.name,
  vendorName: packageJson.name,
  version: packageJson.version,
} as const;
export type ProductInfo = { name: string; vendorName: string; version: string };

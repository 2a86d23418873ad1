/** "1 finding", "2 findings", "0 findings": the count and the noun, agreeing. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

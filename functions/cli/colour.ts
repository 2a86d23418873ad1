/**
 * Whether to colour what goes to a stream. FORCE_COLOR wins (as in Node itself): set to 0 or false it turns
 * colour off, to anything else (1, 2, 3, or empty) on, terminal or not. Otherwise NO_COLOR, set to anything
 * but the empty string, turns it off (no-color.org). Otherwise: colour on a terminal only.
 */
export function useColour(isTerminal: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !["0", "false"].includes(force.trim().toLowerCase());
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return isTerminal;
}

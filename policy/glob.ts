/**
 * Glob matching for protection patterns: `*` matches any run of characters (also none), `?`
 * exactly one, everything else itself; the whole name must match, case-sensitively.
 * Hand-written rather than compiled to a RegExp so that no pattern can backtrack exponentially
 * and no character in a name needs escaping.
 */
export function matchesGlob(pattern: string, text: string): boolean {
  const p = Array.from(pattern);
  const t = Array.from(text);
  let pi = 0;
  let ti = 0;
  // Where the last `*` was and how much of the text it has swallowed so far.
  let starAt = -1;
  let starText = 0;
  while (ti < t.length) {
    const pc = p[pi];
    if (pc === '*') {
      starAt = pi++;
      starText = ti;
    } else if (pc !== undefined && (pc === '?' || pc === t[ti])) {
      pi++;
      ti++;
    } else if (starAt >= 0) {
      pi = starAt + 1;
      ti = ++starText;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

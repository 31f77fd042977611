// "did you mean …?" for a misspelt setting or flag: the known name nearest by edit distance, if near.

/** Levenshtein distance (insertions, deletions, substitutions), letter case ignored. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[t.length]!;
}

/** The known name closest to `name`, when a typo could explain the difference (about one edit in four). */
export function suggest(name: string, known: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 4));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean X?)`, or "" when nothing is near. */
export function didYouMean(name: string, known: Iterable<string>, prefix = ""): string {
  const near = suggest(name, known);
  return near ? ` (did you mean ${prefix}${near}?)` : "";
}

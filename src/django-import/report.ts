// What `portcullis import-django` did, counted and explained: the CLI prints it (or its JSON).
export type Counts = { imported: number; updated: number; unchanged: number; skipped: number };
export type ImportReport = {
  source: string;
  dryRun: boolean;
  users: Counts;
  tokens: Counts;
  blacklisted: Counts;
  /** "user 4 (bob): why", "authtoken key of user 4 (bob): why", … */
  skipped: string[];
  /** Users whose hash is of an algorithm verifyPassword does not check: they log in after a reset. */
  cannotLogIn: string[];
  /** Users with Django's unusable password ("!…"): no password login, as in Django. */
  unusable: string[];
  /** What the source holds that is not imported (see django-source.ts). */
  leftOut: string[];
  /** The id the next registration gets. */
  nextId: number;
};
export type Part = Omit<ImportReport, "source" | "dryRun" | "leftOut" | "nextId">;

const counts = (): Counts => ({ imported: 0, updated: 0, unchanged: 0, skipped: 0 });

/** Nothing counted yet: a batch's part, and the start of the whole report. */
export const emptyPart = (): Part => ({
  users: counts(),
  tokens: counts(),
  blacklisted: counts(),
  skipped: [],
  cannotLogIn: [],
  unusable: [],
});

export function merge(into: ImportReport, part: Part) {
  for (const k of ["users", "tokens", "blacklisted"] as const)
    for (const c of Object.keys(part[k]) as (keyof Counts)[]) into[k][c] += part[k][c];
  into.skipped.push(...part.skipped);
  into.cannotLogIn.push(...part.cannotLogIn);
  into.unusable.push(...part.unusable);
}

/** The report the CLI prints on stdout. */
export function formatReport(r: ImportReport): string {
  const line = (label: string, c: Counts) =>
    `${label.padEnd(28)}${c.imported} imported, ${c.updated} updated, ${c.unchanged} unchanged, ${c.skipped} skipped\n`;
  const list = (title: string, items: string[]) =>
    items.length ? `${title}\n${items.map((i) => `  ${i}\n`).join("")}` : "";
  const dryRun = r.dryRun ? " — DRY RUN: nothing was written; the counts say what an import would do" : "";
  return (
    `Django import from ${r.source}${dryRun}\n` +
    line("users:", r.users) +
    line("authtoken keys:", r.tokens) +
    line("blacklisted refresh tokens:", r.blacklisted) +
    `next new user id: ${r.nextId}\n` +
    list("Skipped:", r.skipped) +
    list("Cannot log in until a password reset (a hash algorithm Portcullis does not verify):", r.cannotLogIn) +
    list('No usable password (Django\'s unusable "!…" password, e.g. social-login accounts):', r.unusable) +
    list("Not imported from the source:", r.leftOut)
  );
}

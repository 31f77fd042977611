// Says in words what a migration script from Prisma's schema engine would change: one line per table,
// column, index, key, enum or other object, e.g. `add column "nickname" to table "auth_user"`.
// It reads the SQL the engine writes for PostgreSQL (quoted names, one clause per line); a statement it
// does not recognise is shown as its first line, so nothing the SQL changes goes unmentioned.

const NAME = String.raw`(?:"(?:[^"]|"")+"\.)?"((?:[^"]|"")+)"`; // optionally schema-qualified, keeps the last part

/** The statements of a script, without comments, split on `;` outside quotes, spaces collapsed. */
export function statements(sql: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i] as string;
    if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
      if (!cur.endsWith(" ")) cur += " ";
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c ? 2 : 1;
      cur += sql.slice(i, j + 1);
      i = j;
    } else if (c === ";") {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
    } else if (/\s/.test(c)) {
      if (!cur.endsWith(" ")) cur += " ";
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const clip = (s: string) => (s.length > 100 ? `${s.slice(0, 99)}…` : s);
const q = (s: string) => `"${s.replaceAll('""', '"')}"`;

/** Top-level comma-separated parts of `s` (commas inside parentheses or quotes do not split). */
function parts(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = "";
  let cur = "";
  for (const c of s) {
    if (quote) quote = c === quote ? "" : quote;
    else if (c === '"' || c === "'") quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function createTable(table: string, body: string): string {
  const columns: string[] = [];
  for (const p of parts(body)) {
    const col = /^"((?:[^"]|"")+)"/.exec(p);
    if (col?.[1]) columns.push(col[1].replaceAll('""', '"'));
  }
  return `create table ${q(table)} (columns ${columns.join(", ")})`;
}

type Rule = [RegExp, (m: string[], stmt: string) => string[]];
const rule = (re: string, fn: Rule[1]): Rule => [new RegExp(`^${re}`, "is"), fn];
const one = (re: string, fn: (m: string[], stmt: string) => string) => rule(re, (m, s) => [fn(m, s)]);

const NULLS: Record<string, string> = {
  "SET NOT NULL": "make it NOT NULL",
  "DROP NOT NULL": "allow NULL",
  "DROP DEFAULT": "drop its default",
};
function columnChange(what: string): string {
  const type = /^(?:SET DATA )?TYPE\s+(\S+)/i.exec(what);
  if (type) return `type to ${type[1]}`;
  const def = /^SET DEFAULT\s+(.*)$/is.exec(what);
  if (def) return `default to ${def[1]}`;
  return NULLS[what.toUpperCase().replace(/\s+/g, " ")] ?? what;
}

/** Clauses of `ALTER TABLE "t" …`, given the table; `m[1]` and on are the clause's captures. */
const CLAUSES: [RegExp, (t: string, m: string[], clause: string) => string][] = (
  [
    [`ADD COLUMN ${NAME}\\s+(\\S+)`, (t, m) => `add column ${q(m[1]!)} (${m[2]}) to ${t}`],
    [`DROP COLUMN ${NAME}`, (t, m) => `drop column ${q(m[1]!)} from ${t}`],
    [`RENAME COLUMN ${NAME} TO ${NAME}`, (t, m) => `rename column ${q(m[1]!)} of ${t} to ${q(m[2]!)}`],
    [`ALTER COLUMN ${NAME}\\s+(.*)$`, (t, m) => `change column ${q(m[1]!)} of ${t}: ${columnChange(m[2]!.trim())}`],
    [
      `ADD CONSTRAINT ${NAME}\\s+(PRIMARY KEY|FOREIGN KEY|UNIQUE|CHECK)\\s*(\\([^)]*\\))?`,
      (t, m, clause) => {
        const ref = /REFERENCES\s+(?:"[^"]+"\.)?"([^"]+)"/i.exec(clause)?.[1];
        const cols = m[3] ? ` ${m[3].replaceAll(" ", "")}` : "";
        return `add ${m[2]!.toLowerCase()} ${q(m[1]!)}${cols} to ${t}${ref ? ` referencing ${q(ref)}` : ""}`;
      },
    ],
    [`DROP CONSTRAINT (?:IF EXISTS )?${NAME}`, (t, m) => `drop constraint ${q(m[1]!)} from ${t}`],
    [`RENAME CONSTRAINT ${NAME} TO ${NAME}`, (t, m) => `rename constraint ${q(m[1]!)} of ${t} to ${q(m[2]!)}`],
  ] as [string, (t: string, m: string[], clause: string) => string][]
).map(([re, fn]) => [new RegExp(`^${re}`, "is"), fn]);

function alterTable(table: string, body: string): string[] {
  const t = `table ${q(table)}`;
  return parts(body).map((clause) => {
    for (const [re, fn] of CLAUSES) {
      const m = re.exec(clause);
      if (m) return fn(t, m, clause);
    }
    return `change ${t}: ${clip(clause)}`;
  });
}

const INDEX =
  `CREATE (UNIQUE )?INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?${NAME} ` +
  `ON (?:ONLY )?${NAME}\\s*(?:USING \\w+\\s*)?(\\(.*\\))`;
const STATEMENTS: Rule[] = [
  one(`CREATE TABLE ${NAME}\\s*\\((.*)\\)\\s*$`, (m) => createTable(m[1]!, m[2]!)),
  one(`DROP TABLE (?:IF EXISTS )?${NAME}`, (m) => `drop table ${q(m[1]!)}`),
  one(`ALTER TABLE (?:ONLY )?${NAME} RENAME TO ${NAME}`, (m) => `rename table ${q(m[1]!)} to ${q(m[2]!)}`),
  rule(`ALTER TABLE (?:ONLY )?${NAME}\\s+(.*)$`, (m) => alterTable(m[1]!, m[2]!)),
  one(INDEX, (m) => `create ${m[1] ? "unique " : ""}index ${q(m[2]!)} on ${q(m[3]!)}${m[4]!.replaceAll(" ", "")}`),
  one(`DROP INDEX (?:CONCURRENTLY )?(?:IF EXISTS )?${NAME}`, (m) => `drop index ${q(m[1]!)}`),
  one(`ALTER INDEX ${NAME} RENAME TO ${NAME}`, (m) => `rename index ${q(m[1]!)} to ${q(m[2]!)}`),
  one(`CREATE TYPE ${NAME} AS ENUM\\s*\\((.*)\\)`, (m) => `create enum ${q(m[1]!)} (${m[2]!.trim()})`),
  one(`ALTER TYPE ${NAME} ADD VALUE\\s+(.*)$`, (m) => `add value ${m[2]!.trim()} to enum ${q(m[1]!)}`),
  one(`ALTER TYPE ${NAME} RENAME TO ${NAME}`, (m) => `rename enum ${q(m[1]!)} to ${q(m[2]!)}`),
  one(`DROP TYPE (?:IF EXISTS )?${NAME}`, (m) => `drop enum ${q(m[1]!)}`),
  one(`(CREATE|DROP) EXTENSION (?:IF (?:NOT )?EXISTS )?${NAME}`, (m) => `${m[1]!.toLowerCase()} extension ${q(m[2]!)}`),
  one(`(CREATE|DROP) SCHEMA (?:IF (?:NOT )?EXISTS )?${NAME}`, (m) => `${m[1]!.toLowerCase()} schema ${q(m[2]!)}`),
  one(
    `(CREATE|DROP|ALTER) SEQUENCE (?:IF (?:NOT )?EXISTS )?${NAME}`,
    (m) => `${m[1]!.toLowerCase()} sequence ${q(m[2]!)}`,
  ),
];

/** One line per change the statement makes. */
export function describeStatement(stmt: string): string[] {
  const s = stmt.trim();
  for (const [re, fn] of STATEMENTS) {
    const m = re.exec(s);
    if (m) return fn(m, s);
  }
  return [clip(s)];
}

/** What the script changes, one line each; empty when it changes nothing. */
export function describeSql(sql: string): string[] {
  return statements(sql).flatMap(describeStatement);
}

// The house's measured shape (npm run shape, part of npm run lint): import rules from
// .dependency-cruiser.cjs, then the budgets a reader relies on — at most 12 files directly in a
// src/ folder, 300 lines in a src/ module, 400 in a test file and 120 characters in any line.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const MAX_FILES_PER_FOLDER = 12;
const MAX_MODULE_LINES = 300;
const MAX_TEST_LINES = 400;
const MAX_LINE = 120;
const SKIP = new Set(["generated", "node_modules", "fixtures"]);

const problems: string[] = [];

function walk(dir: string): string[] {
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !SKIP.has(e.name));
  const files = entries.filter((e) => e.isFile() && /\.(ts|js)$/.test(e.name)).map((e) => join(dir, e.name));
  const modules = files.filter((f) => !f.endsWith(".test.ts"));
  if (dir.startsWith("src") && modules.length > MAX_FILES_PER_FOLDER) {
    problems.push(`${dir}/: ${modules.length} modules directly (at most ${MAX_FILES_PER_FOLDER}): split it by domain`);
  }
  return [...files, ...entries.filter((e) => e.isDirectory()).flatMap((e) => walk(join(dir, e.name)))];
}

for (const file of ["src", "test", "bench", "scripts", "bin", "examples"].flatMap(walk)) {
  const lines = readFileSync(file, "utf8").split("\n");
  const test = file.endsWith(".test.ts") || file.startsWith("test/");
  const budget = test ? MAX_TEST_LINES : MAX_MODULE_LINES;
  if (file.startsWith("src") || test) {
    if (lines.length > budget)
      problems.push(`${file}: ${lines.length} lines (at most ${budget}): split it along a seam`);
  }
  lines.forEach((line, i) => {
    const width = [...line].length;
    // The formatter wraps code; what it leaves is a long string or comment: split it with + or rewrap.
    if (width > MAX_LINE) problems.push(`${file}:${i + 1}: ${width} characters (at most ${MAX_LINE})`);
  });
}

try {
  execFileSync("depcruise", ["src", "--config", ".dependency-cruiser.cjs", "--output-type", "err"], {
    stdio: "inherit",
  });
} catch {
  problems.push("import rules broken (above)");
}
for (const p of problems) console.error(p);
if (problems.length) {
  console.error(`\n${problems.length} shape problem(s)`);
  process.exit(1);
}
console.log("shape: import rules, folder and file sizes and line widths within budget");

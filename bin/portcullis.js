#!/usr/bin/env node
// The CLI, from the compiled server in dist/ (`npm run build`; `npm ci` and `npm start` build it).
let cli;
try {
  cli = await import("../dist/cli/index.js");
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist/cli/index.js")) throw e;
  console.error("portcullis: dist/ holds no build; run `npm run build` (npm ci and npm start run it too)");
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));

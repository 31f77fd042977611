// The CLI straight from the TypeScript sources (tsx compiles each module as it loads): what
// `npm start` ran before the compiled build, kept for bench/start.ts to compare against.
import { main } from "../src/cli/index.ts";

process.exitCode = await main(process.argv.slice(2));

// Before any test file: the compiled server up to date (the CLI and spawned servers run dist/),
// so a test never runs yesterday's build. Incremental: under a second when nothing changed.
import { build } from "../../scripts/build.ts";

export default function setup(): void {
  build();
}

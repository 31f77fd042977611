// The README's shell examples run as written, in order, against a real server: the quick start
// (each `# {…}` comment is the answer of the command above it) and the curl examples.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PW, useServer } from "../../helpers/fixture.ts";

const README = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

/** The first ```sh block after `heading`. */
function shellBlock(heading: string): string {
  const at = README.indexOf(heading);
  expect(at, `README has "${heading}"`).toBeGreaterThan(-1);
  const start = README.indexOf("```sh\n", at) + "```sh\n".length;
  return README.slice(start, README.indexOf("```", start));
}

describe("README examples (pglite)", () => {
  const s = useServer("pglite");
  const run = async (script: string) => {
    const local = script.replaceAll(/(localhost|127\.0\.0\.1):8000/g, s.url.replace(/^http:\/\//, ""));
    // Each answer on its own line, as a terminal shows them one prompt after another.
    const answers = `curl() { command curl "$@"; echo; }\n${local}`;
    const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", answers], { timeout: 60_000 });
    return stdout.split("\n").filter((line) => line.trim());
  };

  it("the quick start answers what its comments say", async () => {
    const script = shellBlock("Then, in another terminal:");
    const promised = script
      .split("\n")
      .filter((l) => l.startsWith("# {"))
      .map((l) => l.slice(2));
    expect(promised.length).toBeGreaterThan(1);
    expect(await run(script)).toEqual(promised);
  });

  it("the curl examples run in order: register, log in, read, change the email, log out, delete", async () => {
    const out = await run(shellBlock("### curl examples"));
    const [created, me, changed, list, logout, deleted] = out;
    expect(out).toHaveLength(6);
    expect(JSON.parse(created!)).toMatchObject({ username: "bob", email: "bob@example.com" });
    expect(JSON.parse(me!)).toMatchObject({ username: "bob", email: "bob@example.com" });
    expect(JSON.parse(changed!)).toMatchObject({ username: "bob", email: "bob2@example.com" });
    expect(JSON.parse(list!)).toEqual([expect.objectContaining({ username: "bob" })]);
    expect([logout, deleted]).toEqual(["204", "204"]);
    const login = await s.request("POST", "/auth/token/login/", { json: { username: "bob", password: PW } });
    expect(login.status).toBe(400); // the account is gone
  });
});

// Graceful shutdown of a real `portcullis serve`: SIGTERM while registrations (each an argon2 hash
// and a write) are under way. For SHUTDOWN_DRAIN_SECONDS the server keeps serving while /readyz
// answers 503 (a load balancer's cue to stop sending); then it stops accepting, lets the requests
// under way finish and exits 0. Every request sent before the listener closed gets its full answer.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { call, startInstance } from "../../helpers/instances.ts";
import { freshPostgres } from "../../helpers/server.ts";

const PW = "Kq7!vLp2#Zx9";
const dir = mkdtempSync(join(tmpdir(), "portcullis-shutdown-"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("SIGTERM under load (postgresql)", () => {
  it("drains: /readyz turns 503, requests under way and during the drain are served, then exit 0", async () => {
    const db = await freshPostgres();
    try {
      const server = await startInstance({
        DATABASE_URL: db.url,
        SECRET_KEY: "shutdown-test-secret-key-0123456789abcdef",
        DATA_DIR: dir,
        LOG_LEVEL: "warn",
        DEFAULT_THROTTLE_RATES: "{}",
        SHUTDOWN_DRAIN_SECONDS: "2",
      });
      const register = (i: number) =>
        call(server.url, "POST", "/auth/users/", { json: { username: `drain${i}`, password: PW } }).then(
          (res) => ({ status: res.status, code: undefined as string | undefined }),
          (e: NodeJS.ErrnoException) => ({ status: 0, code: e.code }),
        );
      const first = Array.from({ length: 8 }, (_, i) => register(i));
      await sleep(30);
      const exit = server.stop();
      await sleep(300);
      const ready = await call(server.url, "GET", "/readyz");
      expect([ready.status, ready.json.status, ready.headers["retry-after"]]).toEqual([503, "shutting down", "5"]);
      const during = await register(8);
      expect(await Promise.all(first)).toEqual(Array(8).fill({ status: 201, code: undefined }));
      expect(during).toEqual({ status: 201, code: undefined });
      expect(await exit).toBe(0);
      expect((await register(9)).code).toBe("ECONNREFUSED");
      const sql = new pg.Client({ connectionString: db.url });
      await sql.connect();
      const { rows } = await sql.query("SELECT count(*)::int AS n FROM auth_user WHERE username LIKE 'drain%'");
      await sql.end();
      expect(rows[0].n).toBe(9);
    } finally {
      await db.drop();
    }
  });
});

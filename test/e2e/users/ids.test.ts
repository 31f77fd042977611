// User ids over both adapters: 1 to 2³¹−1 (Django's AutoField, PostgreSQL's integer). Inside
// the range an id names its user; outside it REST answers 404 (as Django's lookup) and tRPC 400
// (the typed input's bound), never a 500. Over PGlite and PostgreSQL.
import { beforeAll, describe, expect, it } from "vitest";
import { type Auth, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";

const MAX_ID = 2_147_483_647;

describe.each(DATABASES)("user ids on %s", (kind) => {
  const s = useServer(kind);
  let id: number;
  let auth: Auth;
  beforeAll(async () => {
    // Setup only: the next user gets a ten-digit id, as on a long-lived Django database.
    await s.deps.prisma.$executeRawUnsafe(`SELECT setval(pg_get_serial_sequence('auth_user', 'id'), ${MAX_ID - 1})`);
    id = await s.signUp("last", "last@example.com");
    auth = tokenAuth(await s.tokenLogin("last"));
  });

  it("the largest id names its user over REST and tRPC", async () => {
    expect(id).toBe(MAX_ID);
    const rest = await s.request("GET", `/auth/users/${id}/`, { headers: auth });
    expect(rest.status, rest.text).toBe(200);
    expect(rest.json).toEqual({ email: "last@example.com", id, username: "last" });
    expect(await s.trpc(auth).users.get.query({ id })).toEqual(rest.json);
  });

  it.each([0, MAX_ID + 1, 10 ** 10])("id %s: REST 404, tRPC 400", async (bad) => {
    const rest = await s.request("GET", `/auth/users/${bad}/`, { headers: auth });
    expect(rest.status, rest.text).toBe(404);
    expect(rest.json).toEqual({ detail: "Not found." });
    const e = await failure(s.trpc(auth).users.get.query({ id: bad }));
    expect(e.data).toMatchObject({ httpStatus: 400, code: "invalid_input" });
  });
});

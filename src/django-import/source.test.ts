// The dumpdata reader of import-django and its timestamp handling (the PostgreSQL reader and the
// whole import are covered end to end in test/e2e/compat/import-django-*.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { canonicalTimestamp, openDjangoSource, type SourceBatch, SourceError } from "./source.ts";

const tmp = mkdtempSync(join(tmpdir(), "portcullis-django-source-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function read(objects: unknown, size = 500) {
  const file = join(tmp, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof objects === "string" ? objects : JSON.stringify(objects));
  const source = await openDjangoSource(file);
  const batches: SourceBatch[] = [];
  for await (const b of source.batches(size)) batches.push(b);
  return { source, batches };
}

const user = (pk: unknown, username: string, extra: Record<string, unknown> = {}) => ({
  model: "auth.user",
  pk,
  fields: {
    password: "pbkdf2_sha256$1$s$h",
    last_login: null,
    is_superuser: false,
    username,
    first_name: "",
    last_name: "",
    email: `${username}@example.com`,
    is_staff: false,
    is_active: true,
    date_joined: "2026-01-02T03:04:05.678Z",
    groups: [],
    user_permissions: [],
    ...extra,
  },
});

describe("canonicalTimestamp", () => {
  it.each([
    ["2026-11-27T05:42:28.637Z", "2026-11-27T05:42:28.637000Z"], // dumpdata (milliseconds)
    ["2026-11-27T05:42:28Z", "2026-11-27T05:42:28.000000Z"],
    ["2026-11-27T05:42:28.637123Z", "2026-11-27T05:42:28.637123Z"],
    ["2026-11-27 05:42:28.637123+00", "2026-11-27T05:42:28.637123Z"], // PostgreSQL text
    ["2026-11-27T07:42:28.5+02:00", "2026-11-27T05:42:28.500000Z"],
    ["2026-11-27T00:12:00-0530", "2026-11-27T05:42:00.000000Z"],
    ["2026-11-27T05:42:28", "2026-11-27T05:42:28.000000Z"], // naive: taken as UTC
  ])("%s → %s", (input, output) => {
    expect(canonicalTimestamp(input)).toBe(output);
  });

  it.each([
    "",
    "yesterday",
    "2026-02-30T00:00:00Z",
    "2026-11-27T25:00:00Z",
    "2026-11-27T05:42:28.1234567Z",
    "2026-11-27",
  ])("refuses %j", (input) => {
    expect(() => canonicalTimestamp(input)).toThrow(SourceError);
  });
});

describe("the dumpdata reader", () => {
  it("reads users in id order, with their keys and blacklisted jtis in the same batch", async () => {
    const { source, batches } = await read(
      [
        user(3, "carol"),
        user(1, "alice", { last_login: "2026-11-27T05:42:28.637Z", is_staff: true }),
        { model: "authtoken.token", pk: "a".repeat(40), fields: { user: 3, created: "2026-11-27T05:42:28Z" } },
        {
          model: "token_blacklist.outstandingtoken",
          pk: 7,
          fields: { user: 1, jti: "j1", token: "x", created_at: null, expires_at: "2126-01-01T00:00:00Z" },
        },
        {
          model: "token_blacklist.blacklistedtoken",
          pk: 1,
          fields: { token: 7, blacklisted_at: "2026-11-27T05:42:29.162Z" },
        },
      ],
      1,
    );
    expect(source.totalUsers).toBe(2);
    expect(source.maxId).toBe(3);
    expect(batches.map((b) => b.users.map((u) => u.id))).toEqual([[1], [3]]);
    expect(batches[0]!.users[0]).toMatchObject({
      username: "alice",
      isStaff: true,
      lastLogin: "2026-11-27T05:42:28.637000Z",
      dateJoined: "2026-01-02T03:04:05.678000Z",
    });
    expect(batches[0]!.blacklisted).toEqual([
      {
        jti: "j1",
        userId: 1,
        created: null,
        expiresAt: "2126-01-01T00:00:00.000000Z",
        blacklistedAt: "2026-11-27T05:42:29.162000Z",
      },
    ]);
    expect(batches[1]!.tokens).toEqual([{ key: "a".repeat(40), userId: 3, created: "2026-11-27T05:42:28.000000Z" }]);
    expect(source.leftOut).toEqual([]);
  });

  it("follows --natural-foreign user references and says what it leaves out", async () => {
    const { source, batches } = await read([
      user(1, "alice", { groups: [1] }),
      user(null, "nopk"),
      { model: "authtoken.token", pk: "b".repeat(40), fields: { user: ["alice"], created: "2026-11-27T05:42:28Z" } },
      { model: "authtoken.token", pk: "c".repeat(40), fields: { user: 9, created: "2026-11-27T05:42:28Z" } },
      {
        model: "token_blacklist.outstandingtoken",
        pk: 1,
        fields: { user: null, jti: "gone", token: "x", expires_at: "2126-01-01T00:00:00Z" },
      },
      {
        model: "token_blacklist.blacklistedtoken",
        pk: 1,
        fields: { token: 1, blacklisted_at: "2026-11-27T05:42:29Z" },
      },
      { model: "auth.group", pk: 1, fields: { name: "editors" } },
    ]);
    expect(batches.flatMap((b) => b.tokens.map((t) => t.userId))).toEqual([1]);
    expect(source.leftOut).toEqual([
      'user null ("nopk"): no integer pk (was the dump made with --natural-primary?)',
      "a blacklisted refresh token: its user was deleted in Django (it names no user here)",
      "an authtoken key of user 9: that user is not in the dump",
      "group memberships and permissions of 1 user(s): Portcullis has neither (is_staff and is_superuser are imported)",
      "objects of other models (auth.group): not Portcullis's",
    ]);
  });

  it("refuses files that are not a dumpdata of auth.User, saying how to make one", async () => {
    await expect(read("not json")).rejects.toThrow(/^Cannot read .*: Unexpected token/);
    await expect(read({ users: [] })).rejects.toThrow(
      "is not a dumpdata file (a JSON array of {model, pk, fields}): make it with " +
        "`python manage.py dumpdata auth.User authtoken.Token token_blacklist --indent 2 > dump.json`.",
    );
    await expect(read([{ model: "auth.group", pk: 1, fields: {} }])).rejects.toThrow("holds no auth.user objects");
  });
});

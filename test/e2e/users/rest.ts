// What the REST flow tests share: a registration that returns the created user, the one login
// failure message, and every stored value (a key must appear in none).
import { expect } from "vitest";
import type { TestServer } from "../../helpers/server.ts";

/** Status and body, the body byte for byte: DRF's field order is part of the answer. */
export function expectAnswer(res: { status: number; text: string }, status: number, body?: unknown) {
  expect([res.status, res.text]).toEqual([status, body === undefined ? "" : JSON.stringify(body)]);
}

export const BAD_CREDENTIALS = { non_field_errors: ["Unable to log in with provided credentials."] };

export async function register(s: TestServer, body: Record<string, unknown>) {
  const res = await s.request("POST", "/auth/users/", { json: body });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: number; email: string; username?: string };
}

/** Every value of every row of both tables, as text: a key must appear in none of them. */
export async function storedValues(s: TestServer): Promise<string[]> {
  const rows = [
    ...(await s.deps.prisma.$queryRawUnsafe<Record<string, unknown>[]>("SELECT * FROM auth_token")),
    ...(await s.deps.prisma.$queryRawUnsafe<Record<string, unknown>[]>("SELECT * FROM auth_user")),
  ];
  return rows.flatMap((r) => Object.values(r).map((v) => (v instanceof Date ? v.toISOString() : String(v))));
}

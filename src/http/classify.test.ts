// What a thrown error becomes at the edge: a database that is away or overwhelmed is a 503 the
// client may retry, whatever shape Prisma or pg gives the failure; a genuine bug stays a 500.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { classifyError } from "./classify.ts";

const log = pino({ level: "silent" });
const prismaError = (code: string, message: string) => Object.assign(new Error(message), { code, clientVersion: "7" });

describe("classifyError", () => {
  it.each([
    ["P1001", "Can't reach database server"],
    ["P1008", "Operations timed out"],
    ["P1017", "Server has closed the connection."],
    ["P2024", "Timed out fetching a new connection from the connection pool."],
    ["P2028", "Transaction API error: Transaction already closed"],
    ["P2034", "Transaction failed due to a write conflict or a deadlock. Please retry your transaction"],
    ["P2037", "Too many database connections opened"],
  ])("Prisma %s (%s) is a 503 with Retry-After", (code, message) => {
    const e = classifyError(prismaError(code, message), log);
    expect([e.code, e.status, e.retryAfter]).toEqual(["service_unavailable", 503, 5]);
  });

  it.each(["the database system is in recovery mode", "server closed the connection unexpectedly", "write EPIPE"])(
    "a driver error saying %j is a 503",
    (message) => expect(classifyError(new Error(message), log).status).toBe(503),
  );

  it("a programming error stays a 500", () => {
    expect(classifyError(new TypeError("x is undefined"), log).status).toBe(500);
    expect(classifyError(prismaError("P2025", "Record to update not found."), log).status).toBe(500);
  });
});

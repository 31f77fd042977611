// The tRPC code of every error code comes from its status: the pairing tRPC itself uses, so a
// client's httpStatus and data.code always agree with the REST adapter's status.
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { describe, expect, it } from "vitest";
import { ERRORS, type ErrorCode } from "../errors.ts";
import { trpcCode } from "./errors.ts";

const codes = Object.keys(ERRORS) as ErrorCode[];

describe("trpcCode", () => {
  it.each(codes)("%s: a tRPC code whose HTTP status is the error's own", (code) => {
    const status = getHTTPStatusCodeFromError(new TRPCError({ code: trpcCode(code) }));
    expect(status).toBe(ERRORS[code].status);
  });

  it("keeps the codes clients know: PARSE_ERROR for parse_error, BAD_REQUEST for every other 400", () => {
    const at400 = codes.filter((c) => ERRORS[c].status === 400);
    expect(Object.fromEntries(at400.map((c) => [c, trpcCode(c)]))).toEqual({
      ...Object.fromEntries(at400.map((c) => [c, "BAD_REQUEST"])),
      parse_error: "PARSE_ERROR",
    });
    expect(
      ["not_authenticated", "login_locked", "throttled", "service_unavailable"].map((c) => trpcCode(c as ErrorCode)),
    ).toEqual(["UNAUTHORIZED", "FORBIDDEN", "TOO_MANY_REQUESTS", "SERVICE_UNAVAILABLE"]);
  });
});

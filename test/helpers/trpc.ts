// The typed client's side of the tests: what a failed call rejects with.
import { TRPCClientError } from "@trpc/client";
import { expect } from "vitest";
import type { AppRouter } from "../../src/trpc/router.ts";

/** The TRPCClientError a call rejects with (fails the test if it resolves). */
export async function failure(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await call;
  } catch (e) {
    expect(e).toBeInstanceOf(TRPCClientError);
    return e as TRPCClientError<AppRouter>;
  }
  throw new Error("expected the call to fail");
}

import type { LightMyRequestResponse } from "fastify";
import { describe, expect, it } from "vitest";
import { HTTPS_MARK, toInject, toResponse } from "./exchange.ts";

const answer = (statusCode: number, headers: LightMyRequestResponse["headers"], body = "") =>
  ({ statusCode, statusMessage: "", headers, rawPayload: Buffer.from(body) }) as LightMyRequestResponse;

describe("toResponse", () => {
  it("keeps each Set-Cookie a header of its own (not one joined by commas)", () => {
    const res = toResponse(
      answer(200, { "set-cookie": ["a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"] }),
      "GET",
    );
    expect(res.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"]);
  });

  it("drops hop-by-hop headers, and the body where a Response may have none", async () => {
    const res = toResponse(
      answer(200, { connection: "keep-alive", "transfer-encoding": "chunked", vary: "Accept" }, "x"),
      "GET",
    );
    expect([...res.headers]).toEqual([["vary", "Accept"]]);
    expect(await res.text()).toBe("x");
    expect(toResponse(answer(204, {}), "DELETE").body).toBeNull();
    expect(toResponse(answer(200, { "content-length": "5" }, ""), "HEAD").body).toBeNull();
  });
});

describe("toInject", () => {
  it("marks an https URL as TLS, drops a marker the client sent, and sends no user agent it did not", async () => {
    const forged = new Request("http://app.test/api/x?q=1", { headers: { [HTTPS_MARK]: "1" } });
    expect(await toInject(forged, undefined, 10)).toMatchObject({
      url: "/api/x?q=1",
      authority: "app.test",
      headers: { "user-agent": undefined },
    });
    expect((await toInject(forged, undefined, 10)).headers).not.toHaveProperty(HTTPS_MARK);
    expect((await toInject(new Request("https://app.test/"), "::1", 10)).headers).toMatchObject({ [HTTPS_MARK]: "1" });
  });

  it("reads the body up to one byte past the limit, however much more it holds", async () => {
    const request = new Request("http://app.test/", { method: "POST", body: "y".repeat(100) });
    expect(((await toInject(request, undefined, 10)).payload as Buffer).toString()).toBe("y".repeat(11));
    const small = new Request("http://app.test/", { method: "POST", body: "short" });
    expect(((await toInject(small, undefined, 10)).payload as Buffer).toString()).toBe("short");
  });
});

import type { FastifyRequest } from "fastify";
import type { Settings } from "../config/schema.ts";
import type { RequestMeta } from "../core/deps.ts";
import { deviceTokensOf } from "./device-cookie.ts";

/**
 * What services learn of a request, made once per request by both adapters: the client's address
 * and agent, the device tokens it sent back (from its cookie), where a login puts the one it
 * issues, and the request's budget of one password check (a tRPC batch shares it).
 */
export function requestMeta(req: FastifyRequest, settings: Settings): RequestMeta {
  return {
    ip: req.ip,
    userAgent: String(req.headers["user-agent"] ?? ""),
    deviceTokens: deviceTokensOf(req.headers, settings),
    issuedDevice: [],
    passwordChecks: { left: 1 },
  };
}

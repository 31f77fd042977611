// Request bodies as DRF's parsers read them: JSON, urlencoded and multipart forms, each failure in
// DRF's words.
import type { FastifyRequest } from "fastify";
import { AuthError } from "../errors.ts";

export async function parseBody(req: FastifyRequest): Promise<unknown> {
  const raw = req.body as Buffer | undefined;
  const type = req.headers["content-type"];
  if (!raw?.length || !type) return {};
  const media = type.split(";")[0]!.trim().toLowerCase();
  if (media === "application/json") {
    try {
      return JSON.parse(raw.toString("utf8"));
    } catch (e) {
      throw new AuthError("parse_error", `JSON parse error - ${(e as Error).message}`);
    }
  }
  if (media === "application/x-www-form-urlencoded")
    return Object.fromEntries(new URLSearchParams(raw.toString("utf8")));
  if (media === "multipart/form-data") {
    try {
      const form = await new Response(new Uint8Array(raw), { headers: { "content-type": type } }).formData();
      return Object.fromEntries([...form.entries()].filter(([, v]) => typeof v === "string"));
    } catch {
      throw new AuthError("parse_error", "Multipart form parse error - the body does not match its boundary.");
    }
  }
  throw new AuthError("unsupported_media_type", `Unsupported media type "${type.replace(/"/g, "")}" in request.`);
}

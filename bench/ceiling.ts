// The ceiling: a bare Fastify 5 server answering GET /auth/users/me/ with a fixed body and the
// headers Portcullis sends, no auth, no database. `node --import tsx bench/ceiling.ts PORT BODY`
import Fastify from "fastify";

const [port = "0", body = "{}"] = process.argv.slice(2);
const headers = {
  "content-type": "application/json",
  allow: "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  vary: "Accept",
};

const app = Fastify({ logger: false });
app.get("/auth/users/me/", (_req, reply) => {
  reply.headers(headers).send(body);
});
await app.listen({ host: "127.0.0.1", port: Number(port) });
process.once("SIGTERM", () => void app.close().then(() => process.exit(0)));

// A Fastify app of your own with Portcullis inside it, under /identity:
//   DATABASE_URL=pglite:memory node --import tsx examples/fastify-plugin/server.ts
// Portcullis answers /identity/auth/… (Djoser's REST API), /identity/trpc/… (the typed procedures),
// /identity/healthz and /identity/.well-known/jwks.json; every other path stays the app's own.
import Fastify from "fastify";
import { portcullis } from "portcullis";

// What only a server decides stays yours: whose X-Forwarded-For sets req.ip (trustProxy), the
// router's path limits, every HTTP method (Portcullis itself keeps its own 64 KiB body limit).
const app = Fastify({ logger: { level: "warn" } });

// The app's own route, with its own JSON parsing, body limit, hooks and 404.
app.post("/notes", async (req) => ({ saved: req.body }));

// Settings from the environment (SECRET_KEY, DATABASE_URL, DJOSER_*…), as `portcullis serve`
// reads them; `settings: {…}` overrides them. The database is opened, migrated and closed with the app.
await app.register(portcullis, { prefix: "/identity" });

const port = Number(process.env.PORT ?? 3000);
await app.listen({ host: "127.0.0.1", port });
console.log(`listening on http://127.0.0.1:${port} (Portcullis under /identity)`);

for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => void app.close().then(() => process.exit(0)));

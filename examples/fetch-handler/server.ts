// Portcullis as a fetch handler (Request → Response), mounted in a Hono app under /api:
//   DATABASE_URL=pglite:memory node --import tsx examples/fetch-handler/server.ts
//
// The same handler serves any platform that speaks Request and Response:
// - a Next.js route handler, app/api/[...path]/route.ts, on the Node.js runtime (Next.js gives no
//   socket address: set NUM_PROXIES=1 so its proxy's X-Forwarded-For names the client):
//     export const runtime = "nodejs";
//     const portcullis = createFetchHandler({ basePath: "/api" }); // opened once, on first import
//     const handle = async (request: Request) => (await portcullis).handle(request);
//     export { handle as DELETE, handle as GET, handle as HEAD, handle as OPTIONS };
//     export { handle as PATCH, handle as POST, handle as PUT };
// - Bun:
//     Bun.serve({ fetch: (request, server) =>
//       portcullis.handle(request, { clientIp: server.requestIP(request)?.address }) });
// - Deno:
//     Deno.serve((request, info) => portcullis.handle(request, { clientIp: info.remoteAddr.hostname }));
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { Hono } from "hono";
import { createFetchHandler } from "portcullis";

// Settings from the environment, as `portcullis serve` reads them; `settings: {…}` overrides them.
const portcullis = await createFetchHandler({ basePath: "/api" });

const app = new Hono();
app.get("/", (c) => c.text("The app's own page. Portcullis answers under /api/."));
// The handler sees the whole URL (/api/auth/users/…), so mount it with a wildcard, not a sub-app
// that strips the prefix. The socket's address is the client's: throttles and lockouts count by it.
app.all("/api/*", (c) => portcullis.handle(c.req.raw, { clientIp: getConnInfo(c).remote.address }));

const port = Number(process.env.PORT ?? 3000);
const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port }, (info) =>
  console.log(`listening on http://127.0.0.1:${info.port} (Portcullis under /api)`),
);

for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => server.close(() => void portcullis.close().then(() => process.exit(0))));

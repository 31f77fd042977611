// The Djoser-compatible REST adapter, mounted at /auth/ (under the app's prefix). It only
// translates: request → service call → DRF-shaped response.
import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { classifyError } from "../http/classify.ts";
import { adminRoutes } from "./admin.ts";
import { metadataBody, methodNotAllowed, mount, type RestOptions, routeEveryMethod } from "./drf.ts";
import { jwtRoutes } from "./jwt.ts";
import { mfaRoutes } from "./mfa/trench-routes.ts";
import { webauthnRoutes } from "./mfa/webauthn.ts";
import { apiRoot, metadata, response } from "./openapi.ts";
import { json, renderError } from "./render.ts";
import { sessionRoutes } from "./sessions.ts";
import { socialRoutes } from "./social.ts";
import { tokenRoutes } from "./token.ts";
import { userRoutes } from "./users.ts";

// Django's page, byte for byte (it starts with a newline).
export const NOT_FOUND_HTML = `
<!doctype html>
<html lang="en">
<head>
  <title>Not Found</title>
</head>
<body>
  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>
</body>
</html>
`;

// The root reads no credential and no database: it always answers.
const rootDoc = (summary: string, description: string, body: z.ZodType) => ({
  tags: ["root"],
  summary,
  response: { 200: response(description, body) },
});
const ROOT_DOCS = {
  GET: rootDoc("DRF's API root: the URL of /auth/users/", "The links", apiRoot),
  OPTIONS: rootDoc("DRF's metadata of the API root", "The metadata", metadata),
};

export async function restPlugin(app: FastifyInstance, opts: RestOptions) {
  // Keep bodies raw: each view parses its own body when it reads it, as DRF does.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  // Route schemas document the API (/docs); the views validate bodies themselves, with DRF's messages.
  app.setValidatorCompiler(() => () => true);
  // Response schemas, likewise: the views render their own JSON (see render.ts).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.setErrorHandler((err, req, reply) => {
    const { settings } = opts.deps;
    return renderError(reply, classifyError(err, req.log, settings.DEBUG), settings);
  });
  // Django's own 404 page, as legacy clients receive it.
  app.setNotFoundHandler((_req, reply) => reply.code(404).header("content-type", "text/html").send(NOT_FOUND_HTML));

  // DRF's DefaultRouter API root.
  routeEveryMethod(
    app,
    "/",
    async (req, reply) => {
      reply.header("Allow", "GET, HEAD, OPTIONS");
      if (req.method === "OPTIONS")
        return json(
          reply,
          200,
          metadataBody({ name: "Api Root", description: "The default basic root view for DefaultRouter" }),
        );
      if (req.method !== "GET" && req.method !== "HEAD") throw methodNotAllowed(req.method);
      // The Host header itself (checked against ALLOWED_HOSTS), never X-Forwarded-Host.
      return json(reply, 200, { users: `${req.protocol}://${req.headers.host}${app.prefix}/users/` });
    },
    ROOT_DOCS,
  );
  for (const spec of [
    ...userRoutes(opts.deps.settings),
    ...tokenRoutes,
    ...jwtRoutes,
    ...sessionRoutes,
    ...adminRoutes,
    ...mfaRoutes,
    ...webauthnRoutes,
    ...socialRoutes,
  ])
    mount(app, spec, opts);
}

// The house's import rules (npm run shape): no cycles; the core and the store know nothing of
// HTTP or tRPC; only the adapters, the process entry points and embed/ (the fetch handler, which
// drives the Fastify app through app.inject) import Fastify or @trpc/server.
const ADAPTERS = "^src/(rest|trpc|http|cli|embed)/|^src/(app|server)\\.ts$";

module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment:
        "Type-only imports count too (the parser here does not tell them apart): a module below deps.ts " +
        "takes plain values (a user id), not the container's types.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "http-only-in-adapters",
      comment:
        "Fastify and @trpc/server belong to the adapters (rest/, trpc/, http/, app, server, cli) and to " +
        "embed/, whose fetch handler turns a Request into Fastify's inject and its answer into a Response.",
      severity: "error",
      from: { path: "^src/", pathNot: [ADAPTERS, "\\.test\\.ts$"] },
      to: { path: "node_modules/(fastify|@fastify|@trpc/server)/" },
    },
    {
      name: "core-below-adapters",
      comment: "The service layer and the store never import an adapter.",
      severity: "error",
      from: { path: "^src/(core|db|compat|config|django-import)/" },
      to: { path: ADAPTERS },
    },
    {
      name: "compat-is-pure",
      comment: "compat/django holds ports of Django with no Portcullis state: it imports nothing of ours but errors.",
      severity: "error",
      from: { path: "^src/compat/" },
      to: { path: "^src/", pathNot: ["^src/compat/", "^src/errors\\.ts$"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/generated/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};

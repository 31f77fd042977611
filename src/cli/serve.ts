import { type Command, usageError } from "./args.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "start the HTTP server (tRPC at /trpc, Djoser REST at /auth/, docs at /docs)",
  description: `
Start the HTTP server on HOST:PORT: tRPC at /trpc, the Djoser-compatible REST API at /auth/, the
OpenAPI docs at /docs. Pending migrations are applied first unless AUTO_MIGRATE=false. Stops
cleanly on SIGINT/SIGTERM.`,
  options: {
    workers: {
      type: "string",
      value: "N",
      help: "run N processes on one port (1 to 256; PostgreSQL only, Redis recommended; see README)",
    },
  },
  async run({ values }) {
    const workers = values.workers === undefined ? 1 : Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256)
      throw usageError("serve", `--workers expects a whole number from 1 to 256, got "${values.workers}"`);
    // Loaded here, not at the top: `--help` answers without loading the server.
    const { serve, serveWorkers } = await import("../server.ts");
    if (workers === 1) await serve();
    else await serveWorkers(workers);
    return 0;
  },
};

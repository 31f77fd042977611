// Portcullis as a library: start the server in-process, register it in your own Fastify app
// (`portcullis`, under a prefix), answer fetch Requests with it, or build the app around your own deps.

export { type AppOptions, BODY_LIMIT, buildApp, type PortcullisOptions, portcullis } from "./app.ts";
export { loadSettings, SettingsError } from "./config/load.ts";
export type { Settings, SettingsInput } from "./config/schema.ts";
export { createDeps } from "./core/container.ts";
export {
  type ClientInfo,
  createFetchHandler,
  type FetchHandler,
  type FetchHandlerOptions,
} from "./embed/fetch.ts";
export { AuthError, ERRORS, type ErrorCode } from "./errors.ts";
export { type RunningServer, serve, startServer } from "./server.ts";
export { createCallerFactory } from "./trpc/init.ts";
export { type AppRouter, appRouter } from "./trpc/router.ts";

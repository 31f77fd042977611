// Portcullis as a library: start the server in-process, or build the app around your own deps.
export { loadSettings, SettingsError } from "./config/load.ts";
export type { Settings, SettingsInput } from "./config/schema.ts";
export { startServer, serve, type RunningServer } from "./server.ts";
export { buildApp } from "./app.ts";
export { createDeps } from "./core/container.ts";
export { appRouter, type AppRouter } from "./trpc/router.ts";
export { createCallerFactory } from "./trpc/init.ts";
export { AuthError, ERRORS, type ErrorCode } from "./errors.ts";

// Portcullis as a library: start the server in-process, or build the app around your own deps.

export { buildApp } from "./app.ts";
export { loadSettings, SettingsError } from "./config/load.ts";
export type { Settings, SettingsInput } from "./config/schema.ts";
export { createDeps } from "./core/container.ts";
export { AuthError, ERRORS, type ErrorCode } from "./errors.ts";
export { type RunningServer, serve, startServer } from "./server.ts";
export { createCallerFactory } from "./trpc/init.ts";
export { type AppRouter, appRouter } from "./trpc/router.ts";

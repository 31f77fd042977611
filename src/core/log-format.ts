// Where log lines go and in what form: pino's JSON lines (one object per line, for a log
// collector), or pino-pretty's coloured text for a developer at a terminal. LOG_FORMAT=auto picks
// pretty when stdout is a terminal and NODE_ENV is not production.
import { createRequire } from "node:module";
import type { DestinationStream } from "pino";
import type { Settings } from "../config/schema.ts";

const require = createRequire(import.meta.url);

type Pretty = (options: Record<string, unknown>) => DestinationStream;

/** pino-pretty, when it is installed (it is optional: production logs JSON and needs none of it). */
function loadPretty(): Pretty | null {
  try {
    return require("pino-pretty") as Pretty;
  } catch {
    return null;
  }
}

export type LogDestination = { stream?: DestinationStream; warning?: string };

export function logDestination(settings: Settings, tty = process.stdout.isTTY === true): LogDestination {
  const format = settings.LOG_FORMAT;
  const wanted = format === "pretty" || (format === "auto" && tty && settings.NODE_ENV !== "production");
  if (!wanted) return {};
  const pretty = loadPretty();
  if (!pretty)
    return format === "pretty"
      ? { warning: "LOG_FORMAT=pretty needs the pino-pretty package (npm install pino-pretty); logging JSON" }
      : {};
  // Synchronous, as pino's own stdout: the last lines before an exit are not lost.
  return { stream: pretty({ sync: true, colorize: tty, ignore: "hostname", translateTime: "SYS:HH:MM:ss.l" }) };
}

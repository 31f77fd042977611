// Small network helpers shared by the end-to-end tests.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A loopback port that was free a moment ago, for a child process to bind. Taken below the
 * kernel's ephemeral range: a port the kernel hands out for `listen(0)` (the in-process test
 * servers of files running alongside) could otherwise be given away again before the child binds
 * it, and the test would talk to someone else's server.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found between 10000 and ${low}`);
}

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low! > 11_000) return [low!, high!];
  } catch {
    // not Linux: assume the IANA range
  }
  return [49_152, 65_535];
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** A fetch Response read whole: status, headers, text, and the JSON body when there is one. */
export async function readResponse(
  res: Response,
): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

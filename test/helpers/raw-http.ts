// One HTTP/1.1 request over a plain socket, for what fetch and node:http refuse to send
// (unknown methods, TRACE, UTF-8 bytes in a header).
import { connect } from "node:net";

export type RawResponse = { status: number; headers: Map<string, string>; body: string };

/** `head` may be pieces: they are written 100 ms apart, so the server reads them as separate chunks. */
export function rawRequest(
  baseUrl: string,
  head: Buffer | string | string[],
  body: Buffer | string = "",
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ""));
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const raw = Buffer.concat(chunks).toString("latin1");
      const end = raw.indexOf("\r\n\r\n");
      if (end < 0) return reject(new Error(`no HTTP response: ${JSON.stringify(raw.slice(0, 200))}`));
      const [statusLine, ...lines] = raw.slice(0, end).split("\r\n");
      const headers = new Map<string, string>();
      for (const line of lines)
        headers.set(line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim());
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1] ?? NaN),
        headers,
        body: Buffer.from(raw.slice(end + 4), "latin1").toString("utf8"),
      });
    });
    // No half-close: Node's server drops a request whose client already sent FIN. The request
    // says "Connection: close", so the server closes once it has answered.
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer within 10 s")));
    const pieces = Array.isArray(head) ? head : [head];
    pieces.forEach((piece, i) => setTimeout(() => socket.write(piece), i * 100));
    if (body.length) setTimeout(() => socket.write(body), (pieces.length - 1) * 100);
  });
}

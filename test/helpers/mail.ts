// Reading the mails the file backend wrote, as a mailbox would: headers, decoded parts, links.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type Mail = { to: string; subject: string; text: string; html: string; links: string[]; file: string };

export function parseMessage(raw: string) {
  const split = (s: string) => {
    const i = s.search(/\r?\n\r?\n/);
    const head = s.slice(0, i).replace(/\r?\n[ \t]+/g, " ");
    const headers = new Map<string, string>();
    for (const line of head.split(/\r?\n/)) {
      const c = line.indexOf(":");
      headers.set(line.slice(0, c).toLowerCase(), line.slice(c + 1).trim());
    }
    return { headers, body: s.slice(i).replace(/^\r?\n\r?\n/, "") };
  };
  // Parts over 76-char lines come quoted-printable (soft breaks, =XX), as in any real mailbox.
  const unQp = (b: string) =>
    Buffer.from(
      b.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
      "latin1",
    );
  const decode = (body: string, cte?: string) =>
    cte === "quoted-printable"
      ? unQp(body).toString("utf8")
      : cte === "base64"
        ? Buffer.from(body, "base64").toString("utf8")
        : body;
  const top = split(raw);
  const boundary = /boundary="?([^";]+)"?/.exec(top.headers.get("content-type") ?? "")?.[1];
  const parts = new Map<string, string>();
  if (boundary) {
    for (const chunk of top.body.split(`--${boundary}`).slice(1, -1)) {
      // The line break before a boundary belongs to the boundary (RFC 2046).
      const p = split(chunk.replace(/^\r?\n/, "").replace(/\r?\n$/, ""));
      const type = (p.headers.get("content-type") ?? "").split(";")[0]!.trim();
      parts.set(type, decode(p.body, p.headers.get("content-transfer-encoding")));
    }
  }
  return { headers: top.headers, parts };
}

/** Every .eml in the folder, oldest first. */
export function readMails(dir: string): Mail[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".eml"))
    .sort()
    .map((file) => {
      const { headers, parts } = parseMessage(readFileSync(join(dir, file), "utf8"));
      const text = parts.get("text/plain") ?? "";
      return {
        file,
        to: headers.get("to") ?? "",
        subject: headers.get("subject") ?? "",
        text,
        html: parts.get("text/html") ?? "",
        links: text.match(/https?:\/\/\S+/g) ?? [],
      };
    });
}

/** uid and token from a Djoser-style link …/{uid}/{token}. */
export function uidToken(link: string): { uid: string; token: string } {
  const m = /\/([A-Za-z0-9_-]+)\/([0-9a-z]+-[0-9a-f]+)\/?$/.exec(link);
  if (!m) throw new Error(`no uid/token in ${link}`);
  return { uid: m[1]!, token: m[2]! };
}

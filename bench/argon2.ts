// What one password check costs on this machine right now: argon2id at Portcullis's (OWASP)
// parameters with the same binding the server uses, measured in the bench process.
import { Algorithm, hash, verify } from "@node-rs/argon2";
import { median } from "./report.ts";

const OWASP = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
const PASSWORD = "Kq7!vLp2#Zx9";

export type Argon2Cost = { hashMs: number; verifyMs: number; perSecond16: number };

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Median of `n` sequential hashes and verifies, and verifies/s with 16 in flight for `seconds`. */
export async function argon2Cost(n = 11, seconds = 2): Promise<Argon2Cost> {
  const stored = await hash(PASSWORD, OWASP); // warm-up
  const hashes: number[] = [];
  const verifies: number[] = [];
  for (let i = 0; i < n; i++) {
    hashes.push(await timed(() => hash(PASSWORD, OWASP)));
    verifies.push(await timed(() => verify(stored, PASSWORD)));
  }
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      await verify(stored, PASSWORD);
      done++;
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: 16 }, loop));
  return { hashMs: median(hashes), verifyMs: median(verifies), perSecond16: done / ((performance.now() - t) / 1000) };
}

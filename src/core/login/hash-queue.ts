// The hash queue: how many password hashes run at once, how many may wait, and one check at a
// time per account.
import { availableParallelism } from "node:os";
import { AuthError, throttled } from "../../errors.ts";

// Hashes run on libuv's thread pool (4 threads), which on a machine with few cores would take
// every core and leave the event loop waiting: authenticated requests would queue behind logins.
// At most cores − 1 hashes run at once; the rest wait their turn (FIFO), off the event loop. The
// wait is bounded (PASSWORD_HASH_QUEUE): past it a request is refused at once with a 503 rather
// than making every login wait behind a flood; the refusal does not depend on the account.
const HASH_SLOTS = Math.max(1, availableParallelism() - 1);
let hashesRunning = 0;
let maxWaiting = 64;
const waitingForSlot: (() => void)[] = [];

/** Sets how many hashes may wait for a free core (the PASSWORD_HASH_QUEUE setting). */
export function configureHashQueue(limit: number) {
  maxWaiting = limit;
}

export async function hashing<T>(work: () => Promise<T>): Promise<T> {
  if (hashesRunning < HASH_SLOTS) hashesRunning++;
  else if (waitingForSlot.length >= maxWaiting) throw busy();
  else await new Promise<void>((resolve) => waitingForSlot.push(resolve)); // the slot is handed over
  try {
    return await work();
  } finally {
    const next = waitingForSlot.shift();
    if (next) next();
    else hashesRunning--;
  }
}

const busy = () =>
  new AuthError("service_unavailable", "Too many password checks are waiting; try again shortly.", {
    retryAfter: 1,
  });

// One password check at a time per account (key): parallel guesses at one account queue behind
// each other instead of taking every core, and each sees the lockout the one before it left.
// Keyed by the login name for logins, so a name with no account queues exactly like one that has
// an account. A few may queue; more are told to retry (as a lockout's "in flight" wait would).
const MAX_QUEUED_PER_KEY = 64;
const perKey = new Map<string, { tail: Promise<unknown>; queued: number }>();

/** Runs `check` (which hashes) after any other check for `key` in this process has finished. */
export async function oneCheckAtATime<T>(key: string, check: () => Promise<T>): Promise<T> {
  const entry = perKey.get(key) ?? { tail: Promise.resolve(), queued: 0 };
  if (entry.queued >= MAX_QUEUED_PER_KEY) throw throttled(1);
  const run = entry.tail.then(check, check);
  entry.tail = run.catch(() => {});
  entry.queued++;
  perKey.set(key, entry);
  try {
    return await run;
  } finally {
    if (--entry.queued === 0) perKey.delete(key);
  }
}

/**
 * Takes one password check (or hash) from the request's budget: a request may run one, however
 * many calls a tRPC batch holds, so one request cannot queue hundreds of hashes. Synchronous, so
 * the calls of a batch, which run at once, cannot all pass before one counts.
 */
export function spendPasswordCheck(meta: { passwordChecks?: { left: number } }) {
  const budget = meta.passwordChecks;
  if (!budget) return; // not a request (the CLI, a test's direct call)
  if (budget.left <= 0) throw new AuthError("password_check_limit");
  budget.left--;
}

// What the service layer counts for Prometheus (prom-client): authentication events (the audit
// log's kinds: logins, failures, lockouts…), throttled requests and auth-cache lookups. One
// registry per server, so several servers in a process (tests, embedding) count apart; without
// METRICS_ENABLED every count is a no-op and nothing is registered.
import { Counter, Registry } from "prom-client";
import type { AuditKind } from "./dto.ts";

export type Metrics = {
  /** The registry /metrics renders; null when metrics are off. */
  registry: Registry | null;
  event(kind: AuditKind): void;
  throttled(scope: string): void;
  cacheLookup(hit: boolean): void;
};

const OFF: Metrics = { registry: null, event() {}, throttled() {}, cacheLookup() {} };

export function createMetrics(enabled: boolean): Metrics {
  if (!enabled) return OFF;
  const registry = new Registry();
  const events = new Counter({
    name: "portcullis_auth_events_total",
    help: "Authentication events by kind (login_succeeded, login_failed, lockout…), as the audit log records them",
    labelNames: ["kind"],
    registers: [registry],
  });
  const throttled = new Counter({
    name: "portcullis_throttled_requests_total",
    help: "Requests refused with a 429 by a throttle scope",
    labelNames: ["scope"],
    registers: [registry],
  });
  const cache = new Counter({
    name: "portcullis_auth_cache_lookups_total",
    help: "Credential lookups answered from the auth cache (hit) or the database (miss)",
    labelNames: ["result"],
    registers: [registry],
  });
  return {
    registry,
    event: (kind) => events.inc({ kind }),
    throttled: (scope) => throttled.inc({ scope }),
    cacheLookup: (hit) => cache.inc({ result: hit ? "hit" : "miss" }),
  };
}

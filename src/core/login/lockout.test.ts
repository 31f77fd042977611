// The network an address is counted under by the lockout: IPv4 as it is, IPv6 by its /64.
import { describe, expect, it } from "vitest";
import { network } from "./lockout.ts";

describe("lockout network()", () => {
  it.each([
    ["192.0.2.7", "192.0.2.7"],
    ["::ffff:192.0.2.7", "192.0.2.7"],
    ["2001:db8:0:1::5", "2001:db8:0:1::/64"],
    ["2001:0DB8:0000:0001:0:0:0:1", "2001:db8:0:1::/64"],
    // "::" in the first half: the groups after it still belong to the /64.
    ["2001:db8::1:2:3:4:5", "2001:db8:0:1::/64"],
    ["::1:2:3:4:5:6", "0:0:1:2::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
  ])("%s → %s", (ip, expected) => expect(network(ip)).toBe(expected));

  it("two addresses in different /64s are never one network", () => {
    expect(network("2001:db8::1:2:3:4:5")).not.toBe(network("2001:db8::2:2:3:4:5"));
  });
});

// Memory of a server: VmRSS (now) and VmHWM (peak) from /proc, summed over the process and its
// descendants (cluster workers, gunicorn workers, tsx's esbuild helper).
import { readdirSync, readFileSync } from "node:fs";

export type Memory = { rssMb: number; peakMb: number; mainRssMb: number; mainPeakMb: number; processes: number };

function status(pid: number): { rss: number; hwm: number; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
    return { rss: kb("VmRSS"), hwm: kb("VmHWM"), ppid: kb("PPid") };
  } catch {
    return null; // gone, or not Linux
  }
}

/** The pid and every live descendant of it. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = status(Number(name));
    if (s) parent.set(Number(name), s.ppid);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parent) if (ppid === tree[i]) tree.push(pid);
  return tree.filter((pid) => parent.has(pid));
}

const mb = (kb: number) => Math.round(kb / 1024);

export function memoryOf(root: number): Memory | null {
  const tree = processTree(root);
  const main = status(root);
  if (!main) return null;
  const all = [
    main,
    ...tree
      .slice(1)
      .map(status)
      .filter((s) => s !== null),
  ];
  return {
    rssMb: mb(all.reduce((n, s) => n + s.rss, 0)),
    peakMb: mb(all.reduce((n, s) => n + s.hwm, 0)),
    mainRssMb: mb(main.rss),
    mainPeakMb: mb(main.hwm),
    processes: all.length,
  };
}

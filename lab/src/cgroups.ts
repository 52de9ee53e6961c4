// cgroups as the lab's record of "everything that descends from a process it started": membership is
// inherited on fork and survives re-parenting (containerd, shims and docker-proxy outlive a killed dockerd).
import fs from 'node:fs';
import path from 'node:path';

const cgroupRoot = '/sys/fs/cgroup';

/** Where the lab puts one cgroup per daemon: the v1 `pids` hierarchy, or the v2 root; undefined if neither. */
export function daemonCgroupBase(): string | undefined {
  if (fs.existsSync(path.join(cgroupRoot, 'pids', 'cgroup.procs'))) return path.join(cgroupRoot, 'pids', 'gangway-lab');
  if (fs.existsSync(path.join(cgroupRoot, 'cgroup.controllers'))) return path.join(cgroupRoot, 'gangway-lab');
  return undefined;
}

/** Pids in a cgroup and all its children. */
export function cgroupPids(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    try {
      for (const line of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (line.trim()) out.push(Number(line));
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    } catch {
      // vanished meanwhile
    }
  };
  walk(dir);
  return out;
}

/** rmdir a cgroup tree, children first (fails quietly while processes remain). */
export function removeCgroupTree(dir: string): void {
  try {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
    fs.rmdirSync(dir);
  } catch {
    // busy or gone
  }
}

/** The same relative cgroup under every mounted v1 controller (and v2), where it exists. */
export function cgroupDirsEverywhere(relative: string): string[] {
  if (!fs.existsSync(cgroupRoot)) return [];
  const dirs: string[] = [];
  const direct = path.join(cgroupRoot, relative);
  if (fs.existsSync(path.join(cgroupRoot, 'cgroup.controllers')) && fs.existsSync(direct)) dirs.push(direct);
  for (const controller of fs.readdirSync(cgroupRoot)) {
    const d = path.join(cgroupRoot, controller, relative);
    if (fs.existsSync(d)) dirs.push(d);
  }
  return dirs;
}

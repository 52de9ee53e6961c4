// Removing the action's private directory: files OpenVPN made under sudo are root's, so the
// removal falls back to `sudo rm` for what this process may not delete.
import fs from 'node:fs';
import { runPrivileged, type Privilege } from './openvpn-process.ts';

/** Removes `dir` and everything in it; true when it is gone. Only ever called with the action's own mkdtemp directory. */
export function removePrivateDir(dir: string, privilege: Privilege): boolean {
  if (!/gangway-vpn-[A-Za-z0-9]{6}$/.test(dir)) throw new Error(`refusing to remove ${dir}: not a directory this action made`);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    if (!privilege.root) runPrivileged(privilege, 'rm', ['-rf', '--', dir]);
  }
  return !fs.existsSync(dir);
}

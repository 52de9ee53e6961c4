// What main hands to post through the runner's state (GITHUB_STATE): paths and the process
// identity only, never a secret.
import * as core from '@actions/core';
import type { ProcessId } from './openvpn-process.ts';

export interface SavedState {
  /** The private 0700 directory with OpenVPN's log, its pid file and the management socket (no keys: the config goes through stdin). */
  dir?: string;
  socket?: string;
  process?: ProcessId;
  interface?: string;
  root: boolean;
}

export function saveDir(dir: string, socket: string, root: boolean): void {
  core.saveState('dir', dir);
  core.saveState('socket', socket);
  core.saveState('root', String(root));
}

export function saveProcess(p: ProcessId): void {
  core.saveState('pid', String(p.pid));
  core.saveState('pid-start', p.startTime);
}

export function saveInterface(name: string): void {
  core.saveState('interface', name);
}

/** After main has torn everything down itself: post has nothing left to do. */
export function clearSaved(): void {
  for (const k of ['dir', 'socket', 'pid', 'pid-start', 'interface']) core.saveState(k, '');
}

export function loadSaved(): SavedState {
  const get = (k: string): string | undefined => core.getState(k) || undefined;
  const pid = Number(get('pid'));
  const start = get('pid-start');
  return {
    ...(get('dir') ? { dir: get('dir') } : {}),
    ...(get('socket') ? { socket: get('socket') } : {}),
    ...(pid > 0 && start ? { process: { pid, startTime: start } } : {}),
    ...(get('interface') ? { interface: get('interface') } : {}),
    root: get('root') !== 'false',
  };
}

// post: stop OpenVPN (management `signal SIGTERM`, then by pid), confirm its tun device is
// gone, remove the private directory. Only ever warns.
import fs from 'node:fs';
import path from 'node:path';
import * as core from '@actions/core';
import { createRedactor, formatDuration } from '@gangway/kit';
import { isRunning, tailLines } from './openvpn-process.ts';
import { printableLogLines } from './redact.ts';
import { writeDisconnectSummary } from './report.ts';
import { loadSaved } from './saved-state.ts';
import { secretsForPost } from './settings.ts';
import { stopTunnel } from './tunnel.ts';
import { removePrivateDir } from './workdir.ts';

export async function post(): Promise<void> {
  const saved = loadSaved();
  if (!saved.dir) {
    core.info('Nothing to clean up: main did not leave a tunnel.');
    return;
  }
  const privilege = { root: saved.root };
  const started = performance.now();
  const parts: string[] = [];
  if (saved.process && !isRunning(saved.process)) {
    core.warning(`OpenVPN (pid ${saved.process.pid}) had already exited before the post step: the tunnel dropped during the job.`);
    const redact = createRedactor(secretsForPost());
    const lines = printableLogLines(tailLines(path.join(saved.dir, 'openvpn.log'), 15), redact);
    if (lines.length > 0) core.info(`Last lines of OpenVPN's output:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
  const stopped = await stopTunnel({
    process: saved.process,
    ...(saved.socket ? { socketPath: saved.socket } : {}),
    ...(saved.interface ? { interface: saved.interface } : {}),
    privilege,
    graceMs: 5000,
  });
  if (stopped.how === 'survived') core.warning(`OpenVPN (pid ${saved.process?.pid ?? '?'}) survived SIGKILL; it may still hold ${saved.interface ?? 'its tun device'}.`);
  else parts.push(stopped.how === 'already-gone' ? 'OpenVPN was not running' : `OpenVPN stopped (${stopped.how === 'management' ? 'signal SIGTERM over the management interface' : stopped.how}) in ${formatDuration(stopped.ms)}`);
  if (saved.interface) {
    if (stopped.interfaceGone) parts.push(`${saved.interface} gone`);
    else core.warning(`A device named ${saved.interface} still exists after OpenVPN stopped (another tunnel may have taken the name); it was left alone.`);
  }
  if (fs.existsSync(saved.dir)) {
    if (removePrivateDir(saved.dir, privilege)) parts.push(`${saved.dir} removed`);
    else core.warning(`Could not remove ${saved.dir}; it holds OpenVPN's log and its management socket. Remove it by hand.`);
  }
  const text = `${parts.join('; ')} (${formatDuration(performance.now() - started)} in all).`;
  core.info(text);
  await writeDisconnectSummary(text);
}

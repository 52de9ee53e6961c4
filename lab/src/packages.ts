// The Debian packages the lab is made of: installed only when missing (a fresh machine lacks them).
import fs from 'node:fs';
import { run } from './exec.ts';

export const labPackages = ['docker.io', 'openssh-server', 'openvpn', 'docker-registry', 'mmdebstrap', 'apache2-utils', 'iptables', 'iproute2', 'openssl', 'pebble'] as const;

export function missingPackages(packages: readonly string[] = labPackages): string[] {
  return packages.filter((pkg) => {
    const r = run('dpkg-query', ['-W', '-f=${db:Status-Status}', pkg], { allowFailure: true });
    return r.status !== 0 || r.stdout.trim() !== 'installed';
  });
}

/** apt-get install what is missing; `apt-get update` first, and never let a package start its service. */
export function ensurePackages(packages: readonly string[] = labPackages): string[] {
  const missing = missingPackages(packages);
  if (missing.length === 0) return [];
  // Without this, docker.io's and openssh-server's maintainer scripts may start the system daemons.
  const policy = '/usr/sbin/policy-rc.d';
  const madePolicy = !fs.existsSync(policy);
  if (madePolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update'], { env });
    run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  } finally {
    if (madePolicy) fs.rmSync(policy, { force: true });
  }
  return missing;
}

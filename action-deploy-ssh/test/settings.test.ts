import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@gangway/kit';
import { parseVolumes } from '../src/settings/container.ts';
import { parseCommandLine } from '../src/settings/values.ts';
import { dockerSocketFor } from '../src/settings/ssh.ts';
import { blueGreenOf } from '../src/settings/rollout.ts';
import { baseInputs, settingsFrom } from './helpers.ts';

function rejects(extra: Record<string, string>, input: string, message?: RegExp): void {
  let caught: unknown;
  try {
    settingsFrom(baseInputs(extra));
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ConfigurationError for ${JSON.stringify(extra)}`).toBeInstanceOf(ConfigurationError);
  expect((caught as ConfigurationError).input).toBe(input);
  if (message) expect((caught as Error).message).toMatch(message);
}

function settleOf(extra: Record<string, string>): number | undefined {
  const s = settingsFrom(baseInputs(extra));
  return blueGreenOf(s)?.settleMs;
}

describe('settings', () => {
  it('reads a deploy with the documented defaults', () => {
    const s = settingsFrom(baseInputs({ env: 'A=1\nSECRET=s3cr3t value=with=eq', volumes: 'shop-data:/data\n/srv/models:/models:ro', publish: '8080', host: '198.19.0.1, 198.19.0.2:2222' }));
    expect(s.hosts).toEqual([{ host: '198.19.0.1', port: 22 }, { host: '198.19.0.2', port: 2222 }]);
    // publish is set: blue-green behind the managed proxy, app containers on <app>-net.
    expect(s.target).toMatchObject({ kind: 'container', strategy: { name: 'blue-green', proxyImage: { repository: 'nginx', tag: 'stable' }, drainTimeoutMs: 30_000 } });
    expect(s.network).toBe('shop-net');
    expect(s.maxParallel).toBe(1);
    expect(s.onFailure).toBe('rollback');
    expect(s.readiness).toEqual({ kind: 'http', path: '/readyz' });
    expect(s.readinessTimeoutMs).toBe(60_000);
    expect(s.stopTimeoutMs).toBe(30_000);
    expect(s.keep).toBe(3);
    expect(s.lockTimeoutMs).toBe(600_000);
    expect(s.lockTtlMs).toBe(1_800_000);
    expect(s.restartPolicy).toBe('unless-stopped');
    expect(s.dockerSocket).toBe('/var/run/docker.sock');
    expect(s.env.get('SECRET')).toBe('s3cr3t value=with=eq');
    expect(s.volumes).toEqual([
      { source: 'shop-data', kind: 'volume', target: '/data', readOnly: false },
      { source: '/srv/models', kind: 'bind', target: '/models', readOnly: true },
    ]);
    expect(s.publish).toEqual({ hostPort: 8080 });
    expect(s.trust.kind).toBe('fingerprint');
  });

  it('reads settle-time: 5s by default, 0s turns it off, at most 1h', () => {
    expect(settleOf({ publish: '8080', 'settle-time': '' })).toBe(5_000);
    expect(settleOf({ publish: '8080', 'settle-time': '0s' })).toBe(0);
    expect(settleOf({ publish: '8080', 'settle-time': '1m30s' })).toBe(90_000);
    rejects({ 'settle-time': '2h' }, 'settle-time', /at most 1h/);
    rejects({ 'settle-time': 'soon' }, 'settle-time', /not a duration/);
    rejects({ 'settle-time': '30' }, 'settle-time', /no unit/);
  });

  it('reads standby (blue-green only): off by default, at most 168h; canary: true by default', () => {
    expect(blueGreenOf(settingsFrom(baseInputs({ publish: '8080' })))?.standbyMs).toBe(0);
    expect(blueGreenOf(settingsFrom(baseInputs({ publish: '8080', standby: '15m' })))?.standbyMs).toBe(900_000);
    rejects({ publish: '8080', standby: '169h' }, 'standby', /at most 168h/);
    rejects({ publish: '8080', standby: '15m', strategy: 'recreate' }, 'standby', /needs blue-green/);
    rejects({ standby: '15m', target: 'swarm' }, 'standby', /target: swarm/);
    rejects({ publish: '8080', standby: 'later' }, 'standby', /not a duration/);
    expect(settingsFrom(baseInputs({})).canary).toBe(true);
    expect(settingsFrom(baseInputs({ canary: 'false' })).canary).toBe(false);
    rejects({ canary: 'maybe' }, 'canary');
  });

  it('gives repo:tag images the latest tag by default and keeps digests', () => {
    expect(settingsFrom(baseInputs({ image: 'registry.example.com/shop' })).image).toMatchObject({ repository: 'registry.example.com/shop', tag: 'latest' });
    expect(settingsFrom(baseInputs({ image: 'registry.example.com/shop:v2' })).image?.tag).toBe('v2');
  });

  it('refuses to connect without a way to verify the host key, unless told to be insecure', () => {
    const values = baseInputs();
    delete values.fingerprint;
    expect(() => settingsFrom(values)).toThrow(ConfigurationError);
    expect(() => settingsFrom(values)).toThrow(/known-hosts.*fingerprint/);
    expect(settingsFrom({ ...values, 'insecure-skip-host-key-check': 'true' }).insecure).toBe(true);
    expect(() => settingsFrom({ ...values, 'insecure-skip-host-key-check': 'yes' })).toThrow(/not a boolean/);
  });

  it('chooses blue-green when publish is set and recreate otherwise; blue-green needs publish', () => {
    expect(settingsFrom(baseInputs()).target).toEqual({ kind: 'container', strategy: { name: 'recreate' } });
    expect(settingsFrom(baseInputs()).network).toBeUndefined();
    expect(settingsFrom(baseInputs({ publish: '80', strategy: 'recreate' })).network).toBeUndefined();
    expect(settingsFrom(baseInputs({ publish: '80', network: 'edge' })).network).toBe('edge');
    rejects({ strategy: 'blue-green' }, 'publish', /needs "publish"/);
    rejects({ strategy: 'rolling' }, 'strategy');
    rejects({ 'on-failure': 'ignore' }, 'on-failure');
    rejects({ 'max-parallel': '0' }, 'max-parallel');
  });

  it('reads one docker-socket for all hosts, or host=path lines', () => {
    const s = settingsFrom(baseInputs({ host: 'a.example.com, b.example.com:2222', 'docker-socket': '/run/docker.sock\nb.example.com:2222=/run/user/1000/docker.sock' }));
    expect(dockerSocketFor(s, { host: 'a.example.com', port: 22 })).toBe('/run/docker.sock');
    expect(dockerSocketFor(s, { host: 'b.example.com', port: 2222 })).toBe('/run/user/1000/docker.sock');
    rejects({ 'docker-socket': 'c.example.com=/run/docker.sock' }, 'docker-socket', /not one of the hosts/);
    rejects({ 'docker-socket': '198.19.0.1=../docker.sock' }, 'docker-socket');
  });

  it('takes target: swarm on one host, without a strategy or hooks', () => {
    expect(settingsFrom(baseInputs({ target: 'swarm' })).target).toEqual({ kind: 'swarm', replicas: 1 });
    expect(settingsFrom(baseInputs({ target: 'swarm', publish: '8080' })).target).toMatchObject({ kind: 'swarm', replicas: 1, proxy: { image: { registry: 'docker.io', repository: 'nginx', tag: 'stable' } } });
    rejects({ target: 'swarm', strategy: 'blue-green' }, 'strategy', /does not apply to target: swarm/);
    rejects({ target: 'swarm', host: 'a.example.com, b.example.com' }, 'host', /one Swarm manager/);
    rejects({ target: 'swarm', 'pre-deploy': 'npm run migrate' }, 'pre-deploy', /not supported with target: swarm/);
    rejects({ target: 'k8s' }, 'target');
  });

  it('rejects hostile inputs before anything connects', () => {
    rejects({ app: 'x;rm -rf /' }, 'app');
    rejects({ app: '$(id)' }, 'app');
    rejects({ app: 'Shop' }, 'app');
    rejects({ app: 'gangway-lock.shop' }, 'app');
    rejects({ image: 'app:latest$(id)' }, 'image');
    rejects({ image: 'app:latest;id' }, 'image');
    rejects({ image: 'registry.example.com/shop@sha256:abc' }, 'image');
    rejects({ env: 'GOOD=1\n$(touch /tmp/pwned)' }, 'env');
    rejects({ env: 'GOOD=1\nrm -rf / #' }, 'env');
    rejects({ env: 'A;B=1' }, 'env');
    rejects({ env: 'A=1\u0000x' }, 'env');
    rejects({ volumes: 'data:/data/../etc' }, 'volumes');
    rejects({ volumes: '/srv/../etc:/data' }, 'volumes');
    rejects({ volumes: '../etc:/data' }, 'volumes');
    rejects({ volumes: 'data:relative' }, 'volumes');
    rejects({ volumes: '/:/host' }, 'volumes');
    rejects({ volumes: 'data:/data:rw,z' }, 'volumes');
    rejects({ network: 'net;id' }, 'network');
    rejects({ network: 'host' }, 'network');
    rejects({ 'docker-socket': '/var/run/../docker.sock' }, 'docker-socket');
    rejects({ 'readiness-path': '/readyz $(id)' }, 'readiness-path');
    rejects({ 'readiness-path': 'readyz' }, 'readiness-path');
    rejects({ host: 'server;id' }, 'host');
    rejects({ username: 'root;id' }, 'username');
    rejects({ labels: 'gangway.app=other' }, 'labels');
    rejects({ command: 'sh -c "rm -rf /"' }, 'command');
    rejects({ 'pre-deploy': "node -e 'x'" }, 'pre-deploy');
    rejects({ 'jump-host': 'bastion;id' }, 'jump-host');
    rejects({ 'restart-policy': 'sometimes' }, 'restart-policy');
    rejects({ keep: '0' }, 'keep');
    rejects({ 'lock-timeout': '10' }, 'lock-timeout');
    rejects({ 'private-key': 'not a key' }, 'private-key');
  });

  it('keeps $() in an env value as literal text: no shell ever sees it', () => {
    const s = settingsFrom(baseInputs({ env: 'PASSWORD=a$(id)`b`;c' }));
    expect(s.env.get('PASSWORD')).toBe('a$(id)`b`;c');
  });

  it('asks for what an input needs', () => {
    rejects({ 'container-port': '', publish: '8080' }, 'container-port', /publish/);
    rejects({ 'container-port': '' }, 'container-port', /readiness/);
    rejects({ 'registry-username': 'bot' }, 'registry-password');
    rejects({ 'jump-host': 'jump@bastion' }, 'jump-known-hosts');
    rejects({ known_hosts: '', 'known-hosts': 'not a line' }, 'known-hosts');
    rejects({ 'known-hosts': '198.19.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq7y0CX2JZRHf9Jy0JX1pdn9h8JVwlXxj3lQwVL3fW6' }, 'known-hosts', /not both/);
    expect(settingsFrom(baseInputs({ 'container-port': '', 'readiness-path': 'docker' })).readiness).toEqual({ kind: 'docker' });
    expect(settingsFrom({ ...baseInputs({ rollback: 'true' }), image: '' }).image).toBeUndefined();
    rejects({ image: '' }, 'image');
  });

  it('parses commands as argument arrays', () => {
    expect(parseCommandLine('node migrate.js --to latest', 'c')).toEqual(['node', 'migrate.js', '--to', 'latest']);
    expect(parseCommandLine('["node", "-e", "console.log(1 + 1)"]', 'c')).toEqual(['node', '-e', 'console.log(1 + 1)']);
    expect(() => parseCommandLine('["node", 1]', 'c')).toThrow(ConfigurationError);
    expect(() => parseCommandLine('[]', 'c')).toThrow(ConfigurationError);
  });

  it('parses volumes and refuses two mounts at one path', () => {
    expect(() => parseVolumes(['a:/data', 'b:/data'])).toThrow(/two volumes/);
    expect(parseVolumes(['a:/data', 'b:/data2:ro'])).toHaveLength(2);
  });
});

describe('settings: the shared edge and a maintenance switch', () => {
  it('takes maintenance without image as a switch of the edge\'s page only, and needs hostname for it', () => {
    const base = baseInputs({ hostname: 'shop.example.test' });
    delete base.image;
    const s = settingsFrom({ ...base, maintenance: 'true', 'maintenance-message': 'Back at 14:00' });
    expect(s.maintenanceOnly).toBe(true);
    expect(s.image).toBeUndefined();
    expect(s.edge?.maintenance).toEqual({ on: true, message: 'Back at 14:00' });
    expect(s.target).toMatchObject({ kind: 'container', strategy: { name: 'blue-green' } });
    // With an image it is a deploy that also sets the page.
    expect(settingsFrom(baseInputs({ hostname: 'shop.example.test', maintenance: 'false' })).maintenanceOnly).toBe(false);
    // No image and no maintenance: image is still required; maintenance without hostname is refused.
    const inputOf = (values: Record<string, string>): string | undefined => {
      try {
        settingsFrom(values);
      } catch (error) {
        return error instanceof ConfigurationError ? error.input : `not a ConfigurationError: ${String(error)}`;
      }
      return undefined;
    };
    expect(inputOf(base)).toBe('image');
    const noEdge = baseInputs({ maintenance: 'true' });
    delete noEdge.image;
    expect(inputOf(noEdge)).toBe('maintenance');
  });

  it('refuses hostname with publish, with strategy: recreate, with target: swarm, and without container-port', () => {
    rejects({ hostname: 'shop.example.test', publish: '8080' }, 'publish', /Choose one/);
    rejects({ hostname: 'shop.example.test', strategy: 'recreate' }, 'strategy');
    rejects({ hostname: 'shop.example.test', target: 'swarm' }, 'hostname');
    rejects({ hostname: 'shop.example.test', 'container-port': '' }, 'container-port');
  });

  it('reads gpus as docker run --gpus takes them, and refuses what the engine would not take, naming the input', () => {
    expect(settingsFrom(baseInputs({ gpus: 'all' })).gpus).toEqual({ count: -1 });
    expect(settingsFrom(baseInputs({ gpus: '2' })).gpus).toEqual({ count: 2 });
    expect(settingsFrom(baseInputs({ gpus: 'device=0,1' })).gpus).toEqual({ deviceIds: ['0', '1'] });
    expect(settingsFrom(baseInputs({ gpus: '"device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a"' })).gpus).toEqual({ deviceIds: ['GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a'] });
    expect(settingsFrom(baseInputs({})).gpus).toBeUndefined();
    for (const bad of ['0', '65', 'some', 'device=', 'device=0,0', 'device=0;rm -rf /', 'count=1,capabilities=compute', 'all,1']) rejects({ gpus: bad }, 'gpus', /not a GPU request the engine takes/);
    rejects({ gpus: 'all', target: 'swarm' }, 'gpus', /target: container/);
  });

  it('reads audit: true alone (no image, rollback or maintenance) as a read of the audit log', () => {
    const read = settingsFrom(baseInputs({ audit: 'true', image: '' }));
    expect(read.auditOnly).toBe(true);
    expect(read.image).toBeUndefined();
    expect(settingsFrom(baseInputs({})).auditOnly).toBe(false);
    rejects({ audit: 'true' }, 'audit', /changes nothing/);
    rejects({ audit: 'true', image: '', rollback: 'true' }, 'audit', /cannot go with image, rollback or maintenance/);
  });
});

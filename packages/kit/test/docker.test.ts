import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  buildkitStatusOf,
  builtImageIdOf,
  decodeBuildkitStatus,
  defaultDockerHost,
  dockerModemOptions,
  formatImageReference,
  parseDockerHost,
  parseImageReference,
  pushedDigestOf,
  readJsonMessages,
  registryAuthHeader,
  registryServerAddress,
} from '../src/index.ts';

// A minimal protobuf encoder, enough to produce BuildKit StatusResponse messages.
function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const field = (n: number, wire: number): number[] => varint((n << 3) | wire);
const str = (n: number, s: string | Uint8Array): number[] => {
  const bytes = typeof s === 'string' ? [...Buffer.from(s)] : [...s];
  return [...field(n, 2), ...varint(bytes.length), ...bytes];
};
const msg = (n: number, body: number[]): number[] => [...field(n, 2), ...varint(body.length), ...body];
const int = (n: number, v: number | bigint): number[] => [...field(n, 0), ...varint(v)];
const ts = (ms: number): number[] => [...int(1, Math.floor(ms / 1000)), ...int(2, (ms % 1000) * 1e6)];

describe('parseDockerHost', () => {
  it('reads unix sockets, bare paths and tcp addresses', () => {
    expect(parseDockerHost('unix:///var/run/docker.sock', 'docker-host')).toEqual({ kind: 'unix', socketPath: '/var/run/docker.sock', url: 'unix:///var/run/docker.sock' });
    expect(parseDockerHost('/run/x.sock', 'docker-host')).toMatchObject({ kind: 'unix', socketPath: '/run/x.sock' });
    expect(parseDockerHost('tcp://198.18.1.2:2375', 'docker-host')).toMatchObject({ kind: 'tcp', host: '198.18.1.2', port: 2375, tls: false });
    expect(parseDockerHost('tcp://engine:2376', 'docker-host')).toMatchObject({ tls: true });
    expect(parseDockerHost('tcp://engine:2376', 'docker-host', { tls: false })).toMatchObject({ tls: false });
    expect(parseDockerHost('https://[::1]', 'docker-host')).toMatchObject({ host: '::1', port: 2376, tls: true });
  });
  it('refuses what it cannot use, naming the input', () => {
    expect(() => parseDockerHost('unix://relative.sock', 'docker-host')).toThrow(/Input "docker-host".*absolute path/);
    expect(() => parseDockerHost('ssh://me@host', 'docker-host')).toThrow(/ssh:\/\/ engines are not supported/);
    expect(() => parseDockerHost('npipe:////./pipe/docker', 'docker-host')).toThrow(/scheme "npipe"/);
    expect(() => parseDockerHost('localhost:2375', 'docker-host')).toThrow(/not a Docker host/);
    expect(() => parseDockerHost('tcp://h:99999', 'docker-host')).toThrow(/out of range/);
  });
  it('defaults to DOCKER_HOST, then the standard socket', () => {
    expect(defaultDockerHost({ DOCKER_HOST: 'tcp://a:1' })).toBe('tcp://a:1');
    expect(defaultDockerHost({})).toBe('unix:///var/run/docker.sock');
    expect(dockerModemOptions(parseDockerHost('tcp://a:2375', 'x'))).toEqual({ host: 'a', port: 2375, protocol: 'http' });
  });
});

describe('parseImageReference', () => {
  it.each([
    ['198.18.0.1:5000/gangway-test/build-app', { registry: '198.18.0.1:5000', path: 'gangway-test/build-app', repository: '198.18.0.1:5000/gangway-test/build-app' }],
    ['ghcr.io/acme/shop:1.2', { registry: 'ghcr.io', path: 'acme/shop', tag: '1.2' }],
    ['node', { registry: 'docker.io', path: 'library/node', repository: 'node' }],
    ['acme/app', { registry: 'docker.io', path: 'acme/app', repository: 'acme/app' }],
    ['localhost/app:dev', { registry: 'localhost', path: 'app', tag: 'dev' }],
    [`r.io/a@sha256:${'a'.repeat(64)}`, { registry: 'r.io', path: 'a', digest: `sha256:${'a'.repeat(64)}` }],
  ])('%s', (raw, expected) => {
    expect(parseImageReference(raw)).toMatchObject(expected);
  });
  it('rejects upper case, bad tags and bad digests with the input name', () => {
    expect(() => parseImageReference('ghcr.io/Acme/app', 'image')).toThrow(/Input "image".*"Acme"/);
    expect(() => parseImageReference('app:-bad', 'image')).toThrow(/not a valid tag/);
    expect(() => parseImageReference('app@sha256:abc', 'image')).toThrow(/not a sha256 digest/);
    expect(() => parseImageReference('', 'image')).toThrow(/empty/);
  });
  it('formats back', () => {
    expect(formatImageReference({ repository: 'r.io/a', tag: 't' })).toBe('r.io/a:t');
    expect(formatImageReference({ repository: 'r.io/a', digest: 'sha256:x' })).toBe('r.io/a@sha256:x');
  });
});

describe('registryAuthHeader', () => {
  it('is URL-safe base64 JSON that decodes to the credentials', () => {
    const header = registryAuthHeader({ username: 'u', password: 'p?>>?>>', serveraddress: '198.18.0.1:5000' });
    expect(header).not.toMatch(/[+/]/);
    const json = Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    expect(JSON.parse(json)).toEqual({ username: 'u', password: 'p?>>?>>', serveraddress: '198.18.0.1:5000' });
    expect(registryServerAddress('docker.io')).toBe('https://index.docker.io/v1/');
    expect(registryServerAddress('ghcr.io')).toBe('ghcr.io');
  });
});

describe('readJsonMessages', () => {
  it('splits JSON lines across chunk boundaries and keeps odd lines as text', async () => {
    const chunks = ['{"stream":"Step 1/2 : FROM x\\n"}\n{"sta', 'tus":"Pushed","id":"abc"}\nnot json\n', '{"aux":{"Tag":"t","Digest":"sha256:d","Size":5}}'];
    const out = [];
    for await (const m of readJsonMessages(Readable.from(chunks.map((c) => Buffer.from(c))))) out.push(m);
    expect(out).toEqual([{ stream: 'Step 1/2 : FROM x\n' }, { status: 'Pushed', id: 'abc' }, { stream: 'not json' }, { aux: { Tag: 't', Digest: 'sha256:d', Size: 5 } }]);
    expect(pushedDigestOf(out[3] ?? {})).toEqual({ tag: 't', digest: 'sha256:d', size: 5 });
  });
  it('finds the image id of classic and BuildKit builds', () => {
    expect(builtImageIdOf({ aux: { ID: 'sha256:abc' } })).toBe('sha256:abc');
    expect(builtImageIdOf({ id: 'moby.image.id', aux: { ID: 'sha256:def' } })).toBe('sha256:def');
    expect(builtImageIdOf({ stream: 'x' })).toBeUndefined();
  });
});

describe('decodeBuildkitStatus', () => {
  it('decodes vertexes, logs and warnings from protobuf', () => {
    const vertex = [...str(1, 'sha256:v1'), ...str(2, 'sha256:in'), ...str(3, '[2/3] RUN npm test'), ...int(4, 1), ...msg(5, ts(1_700_000_000_000)), ...msg(6, ts(1_700_000_001_500)), ...str(7, 'exit code: 1')];
    const log = [...str(1, 'sha256:v1'), ...msg(2, ts(1)), ...int(3, 2), ...str(4, 'npm ERR! failing test\n')];
    const warning = [...str(1, 'sha256:v1'), ...int(2, 1), ...str(3, 'FROM without platform')];
    const status = [...msg(1, vertex), ...msg(2, str(1, 'status-id')), ...msg(3, log), ...msg(4, warning)];
    const base64 = Buffer.from(status).toString('base64');
    const decoded = decodeBuildkitStatus(base64);
    expect(decoded.vertexes).toEqual([
      { digest: 'sha256:v1', inputs: ['sha256:in'], name: '[2/3] RUN npm test', cached: true, started: 1_700_000_000_000, completed: 1_700_000_001_500, error: 'exit code: 1' },
    ]);
    expect(decoded.logs).toEqual([{ vertex: 'sha256:v1', stream: 2, message: 'npm ERR! failing test\n' }]);
    expect(decoded.warnings).toEqual([{ vertex: 'sha256:v1', message: 'FROM without platform' }]);
    expect(buildkitStatusOf({ id: 'moby.buildkit.trace', aux: base64 })?.vertexes).toHaveLength(1);
    expect(buildkitStatusOf({ aux: base64 })).toBeUndefined();
    expect(decodeBuildkitStatus('')).toEqual({ vertexes: [], logs: [], warnings: [] });
  });
  it('fails loudly on truncated data', () => {
    expect(() => decodeBuildkitStatus(Buffer.from([0x0a, 0x10, 0x01]).toString('base64'))).toThrow(/truncated/);
  });
});

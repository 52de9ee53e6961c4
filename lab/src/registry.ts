// The lab's container registry: Debian's docker-registry (Distribution 2.8) with TLS from the lab CA
// (subjectAltName = its IP) and htpasswd (bcrypt) auth. Both engines trust the CA via /etc/docker/certs.d.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { run, waitFor } from './exec.ts';
import { makeDir } from './ledger.ts';
import type { RecordedProcess } from './ledger.ts';
import { createLeaf } from './pki.ts';
import type { CertFiles } from './pki.ts';
import { assertRunning, startDaemon } from './processes.ts';
import { dataDir, dockerCertsDir, registryAddress, registryHost, registryPort, registryUser, stateDir } from './plan.ts';

export interface RegistrySetup {
  host: string;
  username: string;
  password: string;
  caFile: string;
  configFile: string;
  storageDir: string;
}

export function configureRegistry(ca: CertFiles): RegistrySetup {
  const dir = path.join(stateDir, 'registry');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const address = registryAddress();
  const tls = createLeaf({ dir, name: 'registry', commonName: registryHost(), ca, usage: 'serverAuth', subjectAltName: `IP:${address}` });
  const password = randomBytes(18).toString('base64url');
  const htpasswd = path.join(dir, 'htpasswd');
  // -i: the password comes on stdin, never on a command line.
  run('htpasswd', ['-B', '-i', '-c', htpasswd, registryUser], { input: `${password}\n` });
  const storageDir = path.join(dataDir, 'registry');
  makeDir(storageDir, 0o700);
  const configFile = path.join(dir, 'config.yml');
  fs.writeFileSync(
    configFile,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: false',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storageDir}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${address}:${registryPort}`,
      `  secret: ${randomBytes(24).toString('hex')}`,
      '  tls:',
      `    certificate: ${tls.cert}`,
      `    key: ${tls.key}`,
      'auth:',
      '  htpasswd:',
      '    realm: gangway-lab',
      `    path: ${htpasswd}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  // Both engines read /etc/docker/certs.d/<host:port>/ca.crt at each pull and push.
  makeDir(dockerCertsDir());
  fs.copyFileSync(ca.cert, path.join(dockerCertsDir(), 'ca.crt'));
  return { host: registryHost(), username: registryUser, password, caFile: ca.cert, configFile, storageDir };
}

/** GET /v2/ with the lab CA: 401 means TLS and auth are up. */
export function registryAnswers(caFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: registryAddress(), port: registryPort, path: '/v2/', method: 'GET', ca: fs.readFileSync(caFile), timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function startRegistry(setup: RegistrySetup): Promise<RecordedProcess> {
  const proc = startDaemon({ name: 'registry', cmd: 'docker-registry', args: ['serve', setup.configFile] });
  await waitFor(`the registry on ${setup.host}`, 20_000, async () => {
    assertRunning(proc);
    return (await registryAnswers(setup.caFile)) === 401 ? true : undefined;
  });
  return proc;
}

// Certificates with plain openssl: EC P-256 keys, a CA per purpose, leaf certs with the right EKU.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from './exec.ts';

export interface CertFiles {
  cert: string;
  key: string;
}

function writeConfig(file: string, text: string): void {
  fs.writeFileSync(file, text);
}

function ecKey(file: string): void {
  run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  fs.chmodSync(file, 0o600);
}

/** A self-signed CA in `dir` as `PREFIXca.crt` / `PREFIXca.key`. */
export function createCa(dir: string, commonName: string, prefix = ''): CertFiles {
  fs.mkdirSync(dir, { recursive: true });
  const key = path.join(dir, `${prefix}ca.key`);
  const cert = path.join(dir, `${prefix}ca.crt`);
  const cnf = path.join(dir, `${prefix}ca.cnf`);
  writeConfig(
    cnf,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      `CN = ${commonName}`,
      '[ext]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  ecKey(key);
  run('openssl', ['req', '-x509', '-new', '-key', key, '-config', cnf, '-extensions', 'ext', '-days', '30', '-sha256', '-out', cert]);
  return { cert, key };
}

export interface LeafOptions {
  dir: string;
  name: string;
  commonName: string;
  ca: CertFiles;
  usage: 'serverAuth' | 'clientAuth';
  subjectAltName?: string;
  /**
   * Fixed dates (openssl's YYYYMMDDHHMMSSZ) instead of 30 days from now: for a certificate that has
   * already expired. openssl 3.0 takes dates only in `openssl ca`, which needs a scratch database.
   */
  validity?: { notBefore: string; notAfter: string };
}

/** A leaf certificate signed by `ca`, as `NAME.crt` / `NAME.key` in `dir`. */
export function createLeaf(o: LeafOptions): CertFiles {
  const key = path.join(o.dir, `${o.name}.key`);
  const cert = path.join(o.dir, `${o.name}.crt`);
  const csr = path.join(o.dir, `${o.name}.csr`);
  const cnf = path.join(o.dir, `${o.name}.cnf`);
  writeConfig(
    cnf,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      `CN = ${o.commonName}`,
      '[ext]',
      'basicConstraints = critical, CA:FALSE',
      `keyUsage = critical, digitalSignature${o.usage === 'serverAuth' ? ', keyEncipherment' : ''}`,
      `extendedKeyUsage = ${o.usage}`,
      'authorityKeyIdentifier = keyid',
      ...(o.subjectAltName ? [`subjectAltName = ${o.subjectAltName}`] : []),
      '',
    ].join('\n'),
  );
  ecKey(key);
  run('openssl', ['req', '-new', '-key', key, '-config', cnf, '-out', csr]);
  if (o.validity) {
    const db = fs.mkdtempSync(path.join(o.dir, `${o.name}-ca-`));
    fs.writeFileSync(path.join(db, 'index.txt'), '');
    fs.writeFileSync(path.join(db, 'serial'), `${randomBytes(12).toString('hex')}\n`);
    const caCnf = path.join(db, 'ca.cnf');
    writeConfig(caCnf, ['[ca]', 'default_ca = d', '[d]', `database = ${db}/index.txt`, `new_certs_dir = ${db}`, `serial = ${db}/serial`, 'default_md = sha256', 'policy = p', '[p]', 'commonName = supplied', ''].join('\n'));
    try {
      run('openssl', [
        'ca', '-batch', '-config', caCnf, '-in', csr, '-cert', o.ca.cert, '-keyfile', o.ca.key,
        '-startdate', o.validity.notBefore, '-enddate', o.validity.notAfter, '-extfile', cnf, '-extensions', 'ext', '-notext', '-out', cert,
      ]);
    } finally {
      fs.rmSync(db, { recursive: true, force: true });
    }
  } else {
    run('openssl', [
      'x509', '-req', '-in', csr, '-CA', o.ca.cert, '-CAkey', o.ca.key,
      '-set_serial', `0x${randomBytes(12).toString('hex')}`,
      '-days', '30', '-sha256', '-extfile', cnf, '-extensions', 'ext', '-out', cert,
    ]);
  }
  fs.rmSync(csr);
  return { cert, key };
}

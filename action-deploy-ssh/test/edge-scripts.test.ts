// The two shell scripts the edge runs (docker exec), run here by a real sh against real files: one prints
// every route record, the other loads a config and keeps it only when Caddy (a stand-in on PATH that
// accepts or refuses) took it.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHANGED, LOAD, parseRouteRecords, printRoutesScript, REFUSED } from '../src/edge/edge.ts';

const root = mkdtempSync(path.join(tmpdir(), 'gangway-edge-scripts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A `caddy` whose reload exits with `code` (and says why when it refuses). */
function fakeCaddy(dir: string, code: number): string {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, 'caddy'), `#!/bin/sh\n[ ${code} -eq 0 ] || echo "Error: loading new config: invalid route" >&2\nexit ${code}\n`);
  chmodSync(path.join(bin, 'caddy'), 0o755);
  return bin;
}

function load(dir: string, caddyExit: number, args: string[]) {
  return spawnSync('sh', ['-c', LOAD, 'sh', ...args], { env: { PATH: `${fakeCaddy(dir, caddyExit)}:/usr/bin:/bin` }, encoding: 'utf8' });
}

describe('edge scripts', () => {
  it('prints every route record in one go, and nothing when there is no routes directory', () => {
    const dir = path.join(root, 'routes');
    mkdirSync(dir);
    const a = { app: 'a', hostnames: ['a.test'] };
    const b = { app: 'b', hostnames: ['b.test'], note: 'two\nlines' };
    writeFileSync(path.join(dir, 'a.json'), `${JSON.stringify(a, null, 2)}\n`);
    writeFileSync(path.join(dir, 'b.json'), JSON.stringify(b));
    writeFileSync(path.join(dir, 'b.json.next'), 'not a record');
    const output = execFileSync('sh', ['-c', printRoutesScript(dir)], { encoding: 'utf8' });
    const { records, sum } = parseRouteRecords(output);
    expect(records.map((r) => r.file)).toEqual(['a.json', 'b.json']);
    expect(records.map((r) => JSON.parse(r.text) as unknown)).toEqual([a, b]);
    expect(sum).toMatch(/^\d+ \d+$/);
    expect(execFileSync('sh', ['-c', printRoutesScript(path.join(root, 'none'))], { encoding: 'utf8' })).toBe('');
  });

  it('keeps the config, the record and only the certificate in use when Caddy takes it', () => {
    const dir = path.join(root, 'ok');
    mkdirSync(path.join(dir, 'certs/shop'), { recursive: true });
    writeFileSync(path.join(dir, 'next.json'), 'new config');
    writeFileSync(path.join(dir, 'caddy.json'), 'old config');
    writeFileSync(path.join(dir, 'shop.json.next'), 'new record');
    writeFileSync(path.join(dir, 'watch.next'), '600\n/etc/letsencrypt/live/shop.test/fullchain.pem\n');
    for (const f of ['old1.cert.pem', 'old1.key.pem', 'new2.cert.pem', 'new2.key.pem']) writeFileSync(path.join(dir, 'certs/shop', f), f);
    const r = load(dir, 0, [`${dir}/next.json`, `${dir}/caddy.json`, `${dir}/shop.json.next`, `${dir}/shop.json`, '', `${dir}/certs/shop`, 'new2']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'caddy.json'), 'utf8')).toBe('new config');
    expect(readFileSync(path.join(dir, 'shop.json'), 'utf8')).toBe('new record');
    expect(existsSync(path.join(dir, 'next.json'))).toBe(false);
    expect(readdirSync(path.join(dir, 'certs/shop')).sort()).toEqual(['new2.cert.pem', 'new2.key.pem']);
    // The edge's watch list goes with the config it was made for; the load lock sits beside them.
    expect(readFileSync(path.join(dir, 'watch'), 'utf8')).toContain('/etc/letsencrypt/live/shop.test/fullchain.pem');
    expect(existsSync(path.join(dir, 'watch.next'))).toBe(false);
    expect(existsSync(path.join(dir, '.load.lock'))).toBe(true);
  });

  it('leaves everything as it was when Caddy refuses, and says why', () => {
    const dir = path.join(root, 'refused');
    mkdirSync(path.join(dir, 'certs/shop'), { recursive: true });
    writeFileSync(path.join(dir, 'next.json'), 'broken config');
    writeFileSync(path.join(dir, 'caddy.json'), 'old config');
    writeFileSync(path.join(dir, 'shop.json'), 'old record');
    writeFileSync(path.join(dir, 'shop.json.next'), 'new record');
    writeFileSync(path.join(dir, 'watch'), 'old watch');
    writeFileSync(path.join(dir, 'watch.next'), 'new watch');
    writeFileSync(path.join(dir, 'certs/shop/old1.cert.pem'), 'in use');
    const r = load(dir, 1, [`${dir}/next.json`, `${dir}/caddy.json`, `${dir}/shop.json.next`, `${dir}/shop.json`, '', `${dir}/certs/shop`, 'new2']);
    expect(r.status).toBe(REFUSED);
    expect(r.stderr).toContain('invalid route');
    expect(readFileSync(path.join(dir, 'caddy.json'), 'utf8')).toBe('old config');
    expect(readFileSync(path.join(dir, 'shop.json'), 'utf8')).toBe('old record');
    expect(existsSync(path.join(dir, 'next.json'))).toBe(false);
    expect(existsSync(path.join(dir, 'shop.json.next'))).toBe(false);
    expect(readFileSync(path.join(dir, 'watch'), 'utf8')).toBe('old watch');
    expect(existsSync(path.join(dir, 'watch.next'))).toBe(false);
    expect(readdirSync(path.join(dir, 'certs/shop'))).toEqual(['old1.cert.pem']);
  });

  it('removes the app\'s record and files when its route goes', () => {
    const dir = path.join(root, 'removed');
    mkdirSync(path.join(dir, 'certs/shop'), { recursive: true });
    writeFileSync(path.join(dir, 'next.json'), 'config without shop');
    writeFileSync(path.join(dir, 'shop.json'), 'record');
    const r = load(dir, 0, [`${dir}/next.json`, `${dir}/caddy.json`, '', `${dir}/shop.json`, `${dir}/certs/shop`, '', '']);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'shop.json'))).toBe(false);
    expect(existsSync(path.join(dir, 'certs/shop'))).toBe(false);
    expect(readFileSync(path.join(dir, 'caddy.json'), 'utf8')).toBe('config without shop');
  });

  it('loads nothing when another app changed the records since they were read, and loads when they did not', () => {
    const dir = path.join(root, 'changed');
    const routes = path.join(dir, 'routes');
    mkdirSync(routes, { recursive: true });
    writeFileSync(path.join(routes, 'other.json'), '{"app":"other","v":1}');
    const { sum } = parseRouteRecords(execFileSync('sh', ['-c', printRoutesScript(routes)], { encoding: 'utf8' }));
    // Another app's deploy writes its record in between.
    writeFileSync(path.join(routes, 'other.json'), '{"app":"other","v":2}');
    writeFileSync(path.join(dir, 'next.json'), 'config made from v1');
    writeFileSync(path.join(routes, 'shop.json.next'), 'record');
    const stale = load(dir, 0, [`${dir}/next.json`, `${dir}/caddy.json`, `${routes}/shop.json.next`, `${routes}/shop.json`, '', '', '', routes, sum]);
    expect(stale.status).toBe(CHANGED);
    expect(existsSync(path.join(dir, 'caddy.json'))).toBe(false);
    expect(existsSync(path.join(routes, 'shop.json'))).toBe(false);
    // Read again: the same load goes through.
    const again = parseRouteRecords(execFileSync('sh', ['-c', printRoutesScript(routes)], { encoding: 'utf8' })).sum;
    writeFileSync(path.join(dir, 'next.json'), 'config made from v2');
    writeFileSync(path.join(routes, 'shop.json.next'), 'record');
    const fresh = load(dir, 0, [`${dir}/next.json`, `${dir}/caddy.json`, `${routes}/shop.json.next`, `${routes}/shop.json`, '', '', '', routes, again]);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'caddy.json'), 'utf8')).toBe('config made from v2');
  });
});

// One lab operation at a time: `npm test` may bring the lab up in the background while a test (or a
// person) runs lab:up too. The lock is a file holding the holder's pid; a dead holder's lock is taken over.
import fs from 'node:fs';
import { sleep } from './exec.ts';
import { say } from './progress.ts';

const lockFile = '/run/gangway-lab.lock';

function holder(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(lockFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function withLabLock<T>(what: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = holder();
      if (pid === process.pid) throw new Error(`lab ${what}: this process already holds the lab lock`, { cause: e });
      if (pid === undefined || !alive(pid)) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (!told) say(`waiting for another lab operation (pid ${pid}) to finish`);
      told = true;
      if (Date.now() > deadline) throw new Error(`lab ${what}: gave up waiting for the lab lock held by pid ${pid}`, { cause: e });
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    if (holder() === process.pid) fs.rmSync(lockFile, { force: true });
  }
}

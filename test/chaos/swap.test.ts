// The control case of the chaos suite: a plain blue-green swap v1 → v2 under the same traffic
// as every fault case, so the table shows what "nothing happened" looks like.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseTable, underTraffic } from './support/cases.ts';
import { ChaosApp } from './support/deploy.ts';
import { appImage, type ChaosImage } from './support/images.ts';
import { openChaosSession, type ChaosSession } from './support/session.ts';
import { answeringVersion, historyRows, sampleImage, upload } from './support/traffic.ts';

let session: ChaosSession;
let app: ChaosApp;
let v1: ChaosImage;
let v2: ChaosImage;

describe('chaos control: a plain swap under traffic', () => {
  beforeAll(async () => {
    session = await openChaosSession({ target: 1 });
    v1 = await appImage(session.lab, 'chaos-v1', 'v1');
    v2 = await appImage(session.lab, 'chaos-v2', 'v2');
    app = new ChaosApp(session, 'chaos-swap', 19300 + Math.floor(Math.random() * 50));
    const first = await app.deploy({ image: v1.imageRef });
    expect(first.main.exitCode, first.main.log).toBe(0);
    // History to lose: a few uploads before any case.
    for (let i = 0; i < 3; i++) await upload(app.endpoint, await sampleImage());
  }, 900_000);

  afterAll(async () => {
    await app?.cleanup();
    await session?.close();
    console.log(`chaos cases:\n${caseTable()}`);
  });

  it('v1 → v2: 0 failed, every upload kept, v2 answers', async () => {
    const before = await historyRows(app.endpoint);
    expect(before).toBeGreaterThanOrEqual(3);
    const { value, row } = await underTraffic('control: blue-green v1 → v2', app.endpoint, async () => {
      await new Promise((r) => setTimeout(r, 2000));
      const run = await app.deploy({ image: v2.imageRef });
      await new Promise((r) => setTimeout(r, 2000));
      return run;
    }, { expectVersion: 'v2', result: (r) => (r.main.exitCode === 0 ? 'deployed' : `exit ${r.main.exitCode}`) });
    expect(value.main.exitCode, value.main.log).toBe(0);
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    expect(row.rowsAfter).toBeGreaterThanOrEqual(row.rowsBefore + 1);
    expect(await answeringVersion(app.endpoint)).toBe('v2');
  });
});

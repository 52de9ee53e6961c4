// For the chaos suite: the real app (v1, v2) built by action-build's dist and pushed to the lab
// registry, and faulty releases built FROM it (fixtures/app-variant) and pushed next to them.
import path from 'node:path';
import type { LabState } from '../../../lab/src/index.ts';
import { APP_TEST_REPOSITORY, buildAndPushAppImage, type PushedAppImage } from '../../support/app-image.ts';
import { buildAndPushContext } from '../../support/image-push.ts';

export type FaultMode = 'crash' | 'never-ready' | 'dies-after-ready';

export interface ChaosImage {
  version: string;
  /** registry/repo@sha256:… */
  imageRef: string;
  /** registry/repo:tag (on the runner engine). */
  tagRef: string;
}

/** The real app, APP_VERSION=`version`, pushed as gangway-test/app:`tag`. */
export async function appImage(lab: LabState, tag: string, version: string): Promise<ChaosImage & { pushed: PushedAppImage }> {
  const pushed = await buildAndPushAppImage(lab, { tag, version, gitSha: 'c'.repeat(40) });
  return { version, imageRef: pushed.imageRef, tagRef: `${lab.registry.host}/${APP_TEST_REPOSITORY}:${tag}`, pushed };
}

/** A faulty release FROM `base` (fixtures/app-variant), pushed as gangway-test/app:`tag`. */
export async function faultyImage(lab: LabState, base: ChaosImage, mode: FaultMode, tag: string): Promise<ChaosImage> {
  const version = `${base.version}-${mode}`;
  const context = path.join(import.meta.dirname, '..', 'fixtures', 'app-variant');
  const pushed = await buildAndPushContext(lab, { context, repository: APP_TEST_REPOSITORY, tag, buildargs: { BASE: base.tagRef, MODE: mode, VERSION: version } });
  return { version, imageRef: pushed.digestRef, tagRef: pushed.tagRef };
}

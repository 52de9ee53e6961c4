// For the lab tests: builds the deploy test app on the lab's runner engine and pushes it to the
// lab registry, returning the pushed digests.
import path from 'node:path';
import type { LabState } from '../../lab/src/state.ts';
import { buildAndPushContext } from '../../test/support/image-push.ts';

const fixture = path.join(import.meta.dirname, 'fixtures', 'deploy-app');
export const TEST_REPOSITORY = 'gangway-test/deploy-app';

export interface PushedImage {
  tag: string;
  /** registry/repo:tag */
  tagRef: string;
  /** registry/repo@sha256:... */
  digestRef: string;
  digest: string;
}

/** Builds `TEST_REPOSITORY:<tag>` with the given build args and pushes it. */
export async function buildAndPush(lab: LabState, tag: string, buildargs: Record<string, string>): Promise<PushedImage> {
  const pushed = await buildAndPushContext(lab, { context: fixture, repository: TEST_REPOSITORY, tag, buildargs });
  return { tag, tagRef: pushed.tagRef, digestRef: pushed.digestRef, digest: pushed.digest };
}

// For lab tests: the real app image (app/Dockerfile) built on the lab's runner engine and pushed to
// the lab registry by action-build's own dist bundle, run as the runner runs it. action-build packs
// the context as the docker CLI does (the Dockerfile is sent although .dockerignore leaves it out),
// which app/test's buildAppImage does not do under BuildKit.
import path from 'node:path';
import { RunnerJob, type ActionRun } from '@gangway/harness';
import type { LabState } from '../../lab/src/state.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const APP_TEST_REPOSITORY = 'gangway-test/app';

export interface PushedAppImage {
  /** registry/repo@sha256:... */
  imageRef: string;
  digest: string;
  /** The commit the image says it was built from (GIT_SHA). */
  gitSha: string;
  version: string;
  durationMs: number;
  run: ActionRun;
}

/** Builds app/Dockerfile with APP_VERSION=`version` and GIT_SHA=`gitSha`, tags it `tag` and pushes it. */
export async function buildAndPushAppImage(lab: LabState, options: { tag: string; version: string; gitSha: string }): Promise<PushedAppImage> {
  const job = new RunnerJob({ workspace: REPO_ROOT, github: { sha: options.gitSha, ref: 'refs/heads/main', event: { repository: { default_branch: 'main' } } } });
  try {
    const run = await job.main(path.join(REPO_ROOT, 'action-build'), {
      inputs: {
        image: `${lab.registry.host}/${APP_TEST_REPOSITORY}`,
        context: '.',
        file: 'app/Dockerfile',
        tags: `${options.tag}\nlatest=false\nsha=false\nbranch=false`,
        'build-args': `APP_VERSION=${options.version}\nGIT_SHA=${options.gitSha}`,
        'registry-username': lab.registry.username,
        'registry-password': lab.registry.password,
        'docker-host': lab.runner.dockerHost,
      },
      timeoutMs: 900_000,
    });
    const imageRef = run.outputs['image-ref'] ?? '';
    if (!run.ok || !imageRef.includes('@sha256:')) {
      const errors = run.annotations.filter((a) => a.level === 'error').map((a) => a.message).join('\n');
      throw new Error(`action-build did not push the app image (exit ${run.exitCode}): ${errors}\n${run.log.split('\n').slice(-40).join('\n')}`);
    }
    return { imageRef, digest: run.outputs['digest'] ?? '', gitSha: options.gitSha, version: options.version, durationMs: run.durationMs, run };
  } finally {
    job.cleanup();
  }
}

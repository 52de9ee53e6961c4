// For the lab tests: builds the deploy test app on the lab's runner engine and pushes it to the
// lab registry, returning the pushed digests.
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { EngineStreamError, messageError, pushedDigestOf, readJsonMessages } from '@gangway/kit';
import type { LabState } from '../../lab/src/state.ts';

const fixture = path.join(import.meta.dirname, 'fixtures', 'deploy-app');
export const TEST_REPOSITORY = 'gangway-test/deploy-app';

async function drain(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  let digest: string | undefined;
  for await (const m of readJsonMessages(stream as AsyncIterable<Buffer>)) {
    const error = messageError(m);
    if (error) throw new EngineStreamError(error);
    digest = pushedDigestOf(m)?.digest ?? digest;
  }
  return digest;
}


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
  const docker = new Docker({ socketPath: lab.runner.socket });
  const repository = `${lab.registry.host}/${TEST_REPOSITORY}`;
  const tagRef = `${repository}:${tag}`;
  await drain(await docker.buildImage({ context: fixture, src: fs.readdirSync(fixture) }, { t: tagRef, buildargs, version: '1' } as Docker.ImageBuildOptions));
  const auth = { username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.host };
  const digest = await drain(await docker.getImage(tagRef).push({ tag, authconfig: auth } as object));
  if (!digest) throw new Error(`the push of ${tagRef} reported no digest`);
  return { tag, tagRef, digestRef: `${repository}@${digest}`, digest };
}

// For the chaos suite: the real app (v1, v2) built by action-build's dist and pushed to the lab
// registry, and faulty releases built FROM it (fixtures/app-variant) and pushed next to them.
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { EngineStreamError, messageError, pushedDigestOf, readJsonMessages } from '@gangway/kit';
import type { LabState } from '../../../lab/src/index.ts';
import { APP_TEST_REPOSITORY, buildAndPushAppImage, type PushedAppImage } from '../../support/app-image.ts';

export type FaultMode = 'crash' | 'never-ready' | 'dies-after-ready';

export interface ChaosImage {
  version: string;
  /** registry/repo@sha256:… */
  imageRef: string;
  /** registry/repo:tag (on the runner engine). */
  tagRef: string;
}

async function drain(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  let digest: string | undefined;
  for await (const m of readJsonMessages(stream as AsyncIterable<Buffer>)) {
    const error = messageError(m);
    if (error) throw new EngineStreamError(error);
    digest = pushedDigestOf(m)?.digest ?? digest;
  }
  return digest;
}

/** The real app, APP_VERSION=`version`, pushed as gangway-test/app:`tag`. */
export async function appImage(lab: LabState, tag: string, version: string): Promise<ChaosImage & { pushed: PushedAppImage }> {
  const pushed = await buildAndPushAppImage(lab, { tag, version, gitSha: 'c'.repeat(40) });
  return { version, imageRef: pushed.imageRef, tagRef: `${lab.registry.host}/${APP_TEST_REPOSITORY}:${tag}`, pushed };
}

/** A faulty release FROM `base` (fixtures/app-variant), pushed as gangway-test/app:`tag`. */
export async function faultyImage(lab: LabState, base: ChaosImage, mode: FaultMode, tag: string): Promise<ChaosImage> {
  const docker = new Docker({ socketPath: lab.runner.socket });
  const context = path.join(import.meta.dirname, '..', 'fixtures', 'app-variant');
  const repository = `${lab.registry.host}/${APP_TEST_REPOSITORY}`;
  const tagRef = `${repository}:${tag}`;
  const version = `${base.version}-${mode}`;
  await drain(await docker.buildImage({ context, src: fs.readdirSync(context) }, { t: tagRef, buildargs: { BASE: base.tagRef, MODE: mode, VERSION: version }, version: '1' } as Docker.ImageBuildOptions));
  const auth = { username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.host };
  const digest = await drain(await docker.getImage(tagRef).push({ tag, authconfig: auth } as object));
  if (!digest) throw new Error(`the push of ${tagRef} reported no digest`);
  return { version, imageRef: `${repository}@${digest}`, tagRef };
}

// For lab tests: build a context on the lab's runner engine (classic builder, as the fixtures'
// Dockerfiles expect) and push the result to the lab registry, reading the engine's JSON
// message streams to their end: an error in them throws, the push's digest is returned.
import fs from 'node:fs';
import Docker from 'dockerode';
import { EngineStreamError, messageError, pushedDigestOf, readJsonMessages } from '@gangway/kit';
import type { LabState } from '../../lab/src/state.ts';

/** Reads a build or push stream to its end; throws its first error; the pushed digest, if any. */
export async function drainEngineStream(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  let digest: string | undefined;
  for await (const m of readJsonMessages(stream as AsyncIterable<Buffer>)) {
    const error = messageError(m);
    if (error) throw new EngineStreamError(error);
    digest = pushedDigestOf(m)?.digest ?? digest;
  }
  return digest;
}

export interface PushedBuild {
  /** registry/repo:tag */
  tagRef: string;
  /** registry/repo@sha256:… */
  digestRef: string;
  digest: string;
  /** The image's id (its config digest) on the runner engine. */
  id: string;
  sizeBytes: number;
}

/** Builds `context` (every file in it, or `src`) as `repository:tag` with `buildargs`, and pushes it. */
export async function buildAndPushContext(lab: LabState, options: { context: string; src?: string[]; repository: string; tag: string; buildargs?: Record<string, string> }): Promise<PushedBuild> {
  const docker = new Docker({ socketPath: lab.runner.socket });
  const repository = `${lab.registry.host}/${options.repository}`;
  const tagRef = `${repository}:${options.tag}`;
  const src = options.src ?? fs.readdirSync(options.context);
  await drainEngineStream(await docker.buildImage({ context: options.context, src }, { t: tagRef, buildargs: options.buildargs ?? {}, version: '1' } as Docker.ImageBuildOptions));
  const auth = { username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.host };
  const digest = await drainEngineStream(await docker.getImage(tagRef).push({ tag: options.tag, authconfig: auth } as object));
  if (!digest) throw new Error(`the push of ${tagRef} reported no digest`);
  const info = await docker.getImage(tagRef).inspect();
  return { tagRef, digestRef: `${repository}@${digest}`, digest, id: info.Id, sizeBytes: info.Size };
}

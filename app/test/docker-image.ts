// Builds app/Dockerfile on a Docker engine through its API (dockerode, BuildKit), as `docker build -f app/Dockerfile .` would.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface LabInfo {
  runner: { dockerHost: string; socket: string; bridge: string; bridgeSubnet: string };
}

export function readLabInfo(file = path.join(REPO_ROOT, 'lab/.state/lab.json')): LabInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LabInfo;
  } catch {
    return undefined;
  }
}

/** The repository's files as git sees them (tracked or untracked, minus .gitignore); the engine then applies .dockerignore. */
function contextFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return listed.split('\0').filter((file) => file && !file.startsWith('lab/.state/'));
}

export interface BuiltImage {
  id: string;
  log: string;
  seconds: number;
}

export async function buildAppImage(docker: Docker, tag: string, buildArgs: Record<string, string>, options: { noCache?: boolean } = {}): Promise<BuiltImage> {
  const started = performance.now();
  const stream = await docker.buildImage(
    { context: REPO_ROOT, src: contextFiles() },
    { t: tag, dockerfile: 'app/Dockerfile', buildargs: buildArgs, version: '2', nocache: options.noCache ?? false } as Docker.ImageBuildOptions,
  );
  let log = '';
  let id = '';
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => (error ? reject(error) : resolve()),
      (event: { stream?: string; error?: string; aux?: { ID?: string }; id?: string }) => {
        if (event.error) log += `ERROR ${event.error}\n`;
        if (event.stream) log += event.stream;
        if (event.id === 'moby.image.id' && event.aux?.ID) id = event.aux.ID;
        if (event.aux?.ID && !id) id = event.aux.ID;
      },
    );
  });
  if (log.includes('ERROR ')) throw new Error(`image build failed:\n${log}`);
  if (!id) id = (await docker.getImage(tag).inspect()).Id;
  return { id, log, seconds: (performance.now() - started) / 1000 };
}

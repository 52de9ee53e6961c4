// What build this is, from the environment the image's build ARGs and the deployer set.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appRoot } from './config.ts';

export interface VersionInfo {
  version: string;
  gitSha: string;
  imageDigest: string;
  builtAt: string;
  startedAt: string;
  instance: string;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function readVersionInfo(env: NodeJS.ProcessEnv = process.env, startedAt = new Date()): VersionInfo {
  return {
    version: env.APP_VERSION?.trim() || packageVersion(),
    gitSha: env.GIT_SHA?.trim() || 'unknown',
    imageDigest: env.IMAGE_DIGEST?.trim() || 'unknown',
    builtAt: env.BUILT_AT?.trim() || 'unknown',
    startedAt: startedAt.toISOString(),
    instance: env.INSTANCE_NAME?.trim() || os.hostname(),
  };
}

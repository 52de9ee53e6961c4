// pre-deploy / post-deploy commands: argument arrays run by the Engine (exec in a running
// container, or a one-off container of the new version), never through a shell.
import { randomBytes } from 'node:crypto';
import { errorMessage } from '@gangway/kit';
import { LABEL } from '../labels.ts';
import type { ContainerCreateOptions, DeployEngine } from './engine.ts';

export class HookError extends Error {
  readonly output: string;
  constructor(hook: string, argv: string[], detail: string, output: string) {
    super(`${hook} command ${JSON.stringify(argv)} failed: ${detail}`);
    this.name = 'HookError';
    this.output = output;
  }
}

export interface HookLog {
  log: (line: string) => void;
}

function show(output: string, log: (line: string) => void): void {
  for (const line of output.trimEnd().split('\n')) if (line !== '') log(`  | ${line}`);
}

/** Each command through `docker exec` in the running container; the first failure throws. */
export async function execHooks(engine: DeployEngine, containerId: string, hook: string, commands: string[][], options: HookLog & { signal?: AbortSignal }): Promise<void> {
  for (const argv of commands) {
    options.log(`${hook}: ${JSON.stringify(argv)}`);
    let result;
    try {
      result = await engine.exec(containerId, argv, options.signal);
    } catch (error) {
      throw new HookError(hook, argv, errorMessage(error), '');
    }
    show(result.output, options.log);
    if (result.exitCode !== 0) throw new HookError(hook, argv, `exit code ${result.exitCode}`, result.output);
  }
}

/**
 * Each command in its own container of the new version, with the new container's env,
 * volumes and network but no published port and no restart policy: for migrations that must
 * run before the old version stops (recreate cannot run both containers on one port).
 */
export async function oneOffHooks(engine: DeployEngine, spec: ContainerCreateOptions, hook: string, commands: string[][], options: HookLog & { signal?: AbortSignal }): Promise<void> {
  for (const argv of commands) {
    options.log(`${hook}: ${JSON.stringify(argv)} in a one-off container of the new version`);
    const hostConfig = { ...(spec.HostConfig ?? {}) };
    delete hostConfig.PortBindings;
    delete hostConfig.RestartPolicy;
    const name = `${spec.name}-${hook}-${randomBytes(3).toString('hex')}`;
    const id = await engine.createContainer({
      ...spec,
      name,
      // Exactly the argv, as exec would run it: the image's ENTRYPOINT does not wrap it.
      Entrypoint: argv.slice(0, 1),
      Cmd: argv.slice(1),
      Labels: { ...(spec.Labels ?? {}), [LABEL.role]: 'hook' },
      HostConfig: { ...hostConfig, RestartPolicy: { Name: 'no' } },
    });
    try {
      await engine.startContainer(id);
      const exitCode = await engine.waitContainer(id, options.signal);
      const output = await engine.logs(id, 200).catch(() => '');
      show(output, options.log);
      if (exitCode !== 0) throw new HookError(hook, argv, `exit code ${exitCode}`, output);
    } finally {
      await engine.removeContainer(id, { force: true, anonymousVolumes: true }).catch(() => undefined);
    }
  }
}

// Room on the server before the pull. Images, containers and, usually, the app's own named
// volumes (its database, its uploads) share one filesystem: the engine's data-root. A pull
// that fills it does not only fail; it leaves the running app unable to write in the
// meantime. So the deploy measures the data-root first and refuses, before pulling anything,
// when less than `min-free-space` is free. The Engine API has no free-space call: the
// data-root comes from GET /info and its free space from `df -Pk` over an SSH exec channel
// (the path quoted as one word, never spliced). Where exec is not allowed, the check warns
// and steps aside; the pull's own "no space left on device" is then made readable instead.
import type Docker from 'dockerode';
import type { Client } from 'ssh2';
import { ConfigurationError, errorMessage, formatBytes, formatImageReference, type ImageReference } from '@gangway/kit';
import { runOverSsh } from '@gangway/kit/ssh';
import type { DataRootSpace, DiskProbe, HostContext } from './context.ts';
import type { DockerInfo } from './engine.ts';

export type { DataRootSpace, DiskProbe };


/** The server cannot tell (no exec, no df, unexpected output): the check is skipped with a warning. */
export class DiskProbeUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskProbeUnavailableError';
  }
}

/** `df -Pk` output (POSIX format: one header line, one line per filesystem, 1024-byte blocks). */
export function parseDfOutput(text: string, dataRoot: string): DataRootSpace {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const header = lines[0] ?? '';
  if (!/^Filesystem\s/i.test(header) || lines.length < 2) throw new DiskProbeUnavailableError(`df printed no POSIX table: ${JSON.stringify(text.slice(0, 200))}`);
  // The last line is ours; a device name with spaces would shift the columns, so read from the right.
  const fields = (lines[lines.length - 1] as string).split(/\s+/);
  const capacity = fields.findIndex((f, i) => i >= 4 && /^\d+%$/.test(f));
  if (capacity < 4) throw new DiskProbeUnavailableError(`df printed a line it cannot read: ${JSON.stringify(lines[lines.length - 1])}`);
  const [total, , available] = fields.slice(capacity - 3, capacity).map(Number);
  if (!Number.isFinite(total) || !Number.isFinite(available)) throw new DiskProbeUnavailableError(`df printed sizes it cannot read: ${JSON.stringify(lines[lines.length - 1])}`);
  return {
    dataRoot,
    filesystem: fields.slice(0, capacity - 3).join(' '),
    mountedOn: fields.slice(capacity + 1).join(' ') || dataRoot,
    totalBytes: (total as number) * 1024,
    availableBytes: (available as number) * 1024,
  };
}

/** The real probe: the data-root from the engine, `df -Pk -- <data-root>` over the SSH connection. */
export function sshDiskProbe(docker: Docker, client: Client, asked?: Promise<DockerInfo>): DiskProbe {
  // Asked at connect, it may fail before the probe runs: then the probe asks itself.
  asked?.catch(() => undefined);
  return {
    async dataRootSpace() {
      // The `docker info` asked at connect, once: the data-root does not move.
      const pending = asked?.catch(() => docker.info() as Promise<DockerInfo>);
      asked = undefined;
      const info = await (pending ?? (docker.info() as Promise<DockerInfo>));
      const dataRoot = typeof info.DockerRootDir === 'string' ? info.DockerRootDir : '';
      if (!dataRoot.startsWith('/')) throw new DiskProbeUnavailableError(`the engine reported no data-root (DockerRootDir: ${JSON.stringify(info.DockerRootDir)})`);
      let result;
      try {
        result = await runOverSsh(client, ['df', '-Pk', '--', dataRoot], { timeoutMs: 15_000 });
      } catch (error) {
        throw new DiskProbeUnavailableError(`df could not run over SSH (${errorMessage(error)})`);
      }
      if (result.exitCode !== 0) {
        throw new DiskProbeUnavailableError(`df -Pk -- ${dataRoot} exited with ${String(result.exitCode)}${result.stderr.trim() ? `: ${result.stderr.trim().slice(0, 200)}` : ''}`);
      }
      return parseDfOutput(result.stdout, dataRoot);
    },
  };
}

function describe(space: DataRootSpace): string {
  const where = space.mountedOn && space.mountedOn !== space.dataRoot ? `${space.dataRoot} (on ${space.mountedOn})` : space.dataRoot;
  return `${formatBytes(space.availableBytes)} free of ${formatBytes(space.totalBytes)} at the Docker data-root ${where}`;
}

const FIXES = 'Free space on the server (docker image prune; lower "keep" so fewer old images stay), give the data-root a larger disk, or lower "min-free-space" ("0" turns this check off)';

/**
 * Refuses the deploy, before anything is pulled, when the data-root has less than `min-free-space`
 * free. Skipped when min-free-space is 0 or the host offers no probe; a probe that cannot tell warns.
 * An image already on the server by digest needs no room: low space is then only a warning.
 * Returns what it measured (undefined when it did not).
 */
export async function ensureRoomForPull(ctx: HostContext, image: ImageReference): Promise<DataRootSpace | undefined> {
  const min = ctx.settings.minFreeSpaceBytes;
  if (!min || !ctx.disk) return undefined;
  let space: DataRootSpace;
  try {
    space = await ctx.disk.dataRootSpace();
  } catch (error) {
    ctx.log.warn(`Could not measure the free space of the Docker data-root on ${ctx.host}, so the min-free-space check is skipped: ${errorMessage(error)}`);
    return undefined;
  }
  if (space.availableBytes >= min) {
    ctx.log.info(`disk: ${describe(space)} (min-free-space ${formatBytes(min)})`);
    return space;
  }
  const requested = formatImageReference(image);
  if (image.digest && (await ctx.engine.inspectImage(requested))) {
    ctx.log.warn(`Only ${describe(space)} on ${ctx.host}, below min-free-space ${formatBytes(min)}; ${requested} is already there, so nothing needs pulling and the deploy goes on. ${FIXES}.`);
    return space;
  }
  throw new ConfigurationError(
    `Not enough disk space on ${ctx.host} to pull ${requested}: ${describe(space)}, below min-free-space ${formatBytes(min)}. Nothing was pulled and nothing running was touched. ${FIXES}.`,
    'min-free-space',
  );
}

/** The pull failed because the disk filled up (the check was off or the image was larger than the margin). */
export function isNoSpaceError(error: unknown): boolean {
  return /no space left on device|ENOSPC|disk quota exceeded/i.test(errorMessage(error));
}

/**
 * A pull that ran out of disk, told as such: where, how much is free now (the engine drops its
 * partial download, so this is usually more than at the moment it failed), and what to do.
 */
export async function noSpaceError(ctx: HostContext, image: ImageReference, error: unknown): Promise<Error> {
  let now = '';
  if (ctx.disk) {
    now = await ctx.disk.dataRootSpace().then(
      (space) => ` (now ${describe(space)})`,
      () => '',
    );
  }
  const min = ctx.settings.minFreeSpaceBytes;
  const check = min ? `min-free-space (${formatBytes(min)}) was not enough room for this image: raise it` : 'min-free-space is off: set it (e.g. "1GiB") so the deploy refuses before pulling';
  // The engine's own words, cut to the write that failed (the rest repeats the image and the registry).
  const said = errorMessage(error);
  const write = /[^,;:()]*:\s*no space left on device/i.exec(said)?.[0].trim() ?? said.slice(0, 300);
  return new Error(
    `The pull of ${formatImageReference(image)} on ${ctx.host} ran out of disk space${now}. Nothing was switched: the running version was not touched and keeps serving. ${FIXES.replace(', or lower "min-free-space" ("0" turns this check off)', '')}; ${check}. (The engine: ${write}.)`,
    { cause: error },
  );
}

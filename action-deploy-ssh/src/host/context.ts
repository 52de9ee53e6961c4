// What every phase of a deploy on one host works with: the engine, the prober, the settings,
// the phase clock and a logger that prefixes every line with the host.
import type { PhaseClock } from '@gangway/kit';
import type { DeployEngine } from './engine.ts';
import type { Provenance } from '../labels.ts';
import type { HeldLock, PendingLock } from './lock.ts';
import type { DeploySettings } from '../settings/index.ts';

export interface HostLog {
  info(line: string): void;
  warn(line: string): void;
  debug?(line: string): void;
  /** A collapsed log group (nested calls become plain headings inside the open group). */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

/** Where a deploy says which locks it holds (the step state the post step releases them from). */
export interface LockEvents {
  /** A create of the lock's marker was sent; its answer may never come (a cut connection). Kept until acquired or released. */
  taking?(host: string, lock: PendingLock): void;
  acquired(host: string, lock: HeldLock): void;
  /** Released, or (a pending lock) never made: the engine answered that the name was taken. */
  released(host: string, lock: PendingLock): void;
}

export interface HostContext {
  /** `host` or `host:port`, as shown in logs and the report. */
  host: string;
  engine: DeployEngine;
  prober: HttpProber;
  settings: DeploySettings;
  /** Who deploys, from where: the same for every host of the run. */
  provenance: Provenance;
  clock: PhaseClock;
  log: HostLog;
  signal?: AbortSignal;
  /** The free space of the engine's data-root (absent where the host cannot tell). */
  disk?: DiskProbe;
  /** Told of every lock taken and released here (absent in tests that do not look). */
  locks?: LockEvents;
  /** Why the SSH connection to this host broke, once it has. */
  connectionLost?: () => Error | undefined;
}

/** The engine's data-root and the free space of the filesystem that holds it. */
export interface DataRootSpace {
  /** The engine's DockerRootDir. */
  dataRoot: string;
  /** The filesystem (device) and where it is mounted, as df names them. */
  filesystem: string;
  mountedOn: string;
  totalBytes: number;
  /** What an unprivileged writer may still use (df's "Available"). */
  availableBytes: number;
}

export interface DiskProbe {
  /** The engine's data-root and the free space of the filesystem that holds it. */
  dataRootSpace(): Promise<DataRootSpace>;
}

/** HTTP GET from the server's side (through the SSH connection): the readiness probe. */
export interface HttpProber {
  /** `signal` is the caller's: the restore after a cancelled job probes without the job's signal. */
  get(host: string, port: number, path: string, timeoutMs: number, signal?: AbortSignal): Promise<{ status: number; body: string }>;
}

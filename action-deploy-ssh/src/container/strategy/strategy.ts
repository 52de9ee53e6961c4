// The switch from the running container to a new (or retained) one, for target: container:
// `recreate` stops the old one first; `blue-green` switches the managed proxy once the new one is
// ready. container/deployer.ts plans the swap and hands it to the strategy.
import type { ContainerCreateOptions, ContainerRef, ContainerSummary } from '../../host/engine.ts';
import type { HostContext } from '../../host/context.ts';
import type { ReadinessResult } from '../../host/readiness.ts';
import type { RoleRelease } from '../roles.ts';
import type { FrontState } from '../front.ts';

export type SwapTarget =
  | { kind: 'create'; spec: ContainerCreateOptions }
  /** A retained container of this app (rollback): started again, never removed on failure. */
  | { kind: 'existing'; container: ContainerSummary };

export interface SwapPlan {
  /** The container serving now, if any. */
  from?: ContainerSummary;
  to: SwapTarget;
  preDeploy: string[][];
  postDeploy: string[][];
  /** The worker roles of the release: started after the new web container is ready, before the switch. */
  roles?: RoleRelease;
  /** Right before the switch: throws when the deploy lock is no longer this run's (nothing is switched then). */
  confirmLock?: () => Promise<void>;
  /** The front as read under the lock (which container it serves): the switch starts from it. */
  frontState?: FrontState;
}

export interface SwapOutcome {
  ok: boolean;
  /** The old container serves again after a failed switch. */
  rolledBack: boolean;
  /** The container serving after the swap when ok; the one that was tried otherwise. */
  container?: ContainerRef;
  readiness?: ReadinessResult;
  /** From the moment the old container stopped taking requests to the new one being ready. */
  downtimeMs?: number;
  /** Why it failed. */
  error?: Error;
  /** Whether the old container was touched at all (false: a failure before the switch). */
  switched: boolean;
  /** The old container, left running out of the proxy (standby), instead of drained and stopped. */
  standby?: ContainerRef;
}

export interface Strategy {
  readonly name: string;
  /** Whether requests fail during the swap (reported in the summary). */
  readonly dropsRequests: boolean;
  swap(ctx: HostContext, plan: SwapPlan): Promise<SwapOutcome>;
}

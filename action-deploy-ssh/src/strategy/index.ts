import { ConfigurationError } from '@gangway/kit';
import type { StrategyName } from '../settings.ts';
import { recreate } from './recreate.ts';
import type { Strategy } from './strategy.ts';

export type { Strategy, SwapPlan, SwapOutcome, SwapTarget, ContainerRef } from './strategy.ts';

/** The strategy for a `strategy` input. blue-green is refused in settings already (issue #7). */
export function strategyFor(name: StrategyName): Strategy {
  if (name === 'recreate') return recreate;
  throw new ConfigurationError(`strategy "${name}" is not available yet. Use strategy: recreate.`, 'strategy');
}

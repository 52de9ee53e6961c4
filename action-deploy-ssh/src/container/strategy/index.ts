import { ConfigurationError } from '@gangway/kit';
import type { StrategyName } from '../../settings/index.ts';
import { blueGreen } from './blue-green.ts';
import { recreate } from './recreate.ts';
import type { Strategy } from './strategy.ts';

export type { Strategy, SwapPlan, SwapOutcome, SwapTarget } from './strategy.ts';

export function strategyFor(name: StrategyName): Strategy {
  if (name === 'recreate') return recreate;
  if (name === 'blue-green') return blueGreen;
  throw new ConfigurationError(`strategy "${String(name)}" is unknown. Use blue-green or recreate.`, 'strategy');
}

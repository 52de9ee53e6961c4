import { runAction } from '@gangway/kit';
import { main } from './main.ts';

await runAction({
  main: async (signal) => {
    await main(signal);
  },
});

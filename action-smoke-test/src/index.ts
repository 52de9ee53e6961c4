import { runAction } from '@gangway/kit';
import { main } from './main.ts';

await runAction({
  main: async (signal) => {
    // The deadline counts from the process start (performance's time origin), not from here.
    await main(signal, { startedAt: 0 });
  },
});

import { runAction } from '@gangway/kit';
import { main } from './main.ts';

await runAction({ main: (signal) => main(signal) });

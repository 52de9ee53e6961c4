import { runAction } from '@gangway/kit';
import { main } from './main.ts';
import { post } from './post.ts';

await runAction({ main: (signal) => main(signal), post: (signal) => post(signal) });

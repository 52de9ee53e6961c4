import { ConfigurationError, runAction } from '@gangway/kit';

// Not built yet: fails with a clear message instead of pretending to work (issue #4).
await runAction({
  main: async () => {
    throw new ConfigurationError('gangway/action-build is not released yet (issue #4). Pin a released version.');
  },
});

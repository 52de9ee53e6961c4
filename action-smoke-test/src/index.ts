import { ConfigurationError, runAction } from '@gangway/kit';

// Not built yet: fails with a clear message instead of pretending to work (issue #8).
await runAction({
  main: async () => {
    throw new ConfigurationError('gangway/action-smoke-test is not released yet (issue #8). Pin a released version.');
  },
});

import { ConfigurationError, runAction } from '@gangway/kit';

// Not built yet: fails with a clear message instead of pretending to work (issue #9).
await runAction({
  main: async () => {
    throw new ConfigurationError('gangway/action-notify is not released yet (issue #9). Pin a released version.');
  },
});

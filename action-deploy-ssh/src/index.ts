import { ConfigurationError, runAction } from '@gangway/kit';

// Not built yet: fails with a clear message instead of pretending to work (issue #6).
await runAction({
  main: async () => {
    throw new ConfigurationError('gangway/action-deploy-ssh is not released yet (issue #6). Pin a released version.');
  },
});

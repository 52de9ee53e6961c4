import { ConfigurationError, runAction } from '@gangway/kit';

// Not built yet: fails with a clear message instead of pretending to work (issue #5).
await runAction({
  main: async () => {
    throw new ConfigurationError('gangway/action-vpn-connect is not released yet (issue #5). Pin a released version.');
  },
});

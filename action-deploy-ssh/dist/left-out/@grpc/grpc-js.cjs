// @grpc/grpc-js is left out of this bundle ("gangway.bundleStubs" in the action's package.json):
// it is required when a dependency loads, but the code that would use it never runs in this action.
'use strict';
module.exports = new Proxy({}, {
  get(_target, key) {
    if (typeof key === 'symbol' || key === '__esModule' || key === 'then') return undefined;
    throw new Error("@grpc/grpc-js" + ' is left out of this action\'s bundle (gangway.bundleStubs), yet its ' + String(key) + ' was used');
  },
});

// `npm run deploy` against the fake API server (test/fake-kube-api).
//
// Jest gives every test file its own module registry, so each file loads and
// warms up cdk8s, the schemas and ajv afresh: the ten validate topics took
// 11 CPU-s as ten files and 7 CPU-s as one. Related topics therefore share one
// test file: each topic is a module of test/deploy/, required inside its own
// describe block, so that its hooks and tests stay its own.
/* eslint-disable @typescript-eslint/no-require-imports */
describe('deploy/rollout', () => {
  require('./deploy/rollout');
});
describe('deploy/cluster', () => {
  require('./deploy/cluster');
});

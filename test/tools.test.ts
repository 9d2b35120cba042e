// The commands around the manifests (synth, import, the TypeScript runner, the
// test runner, the smoke run's rules and secrets) and the backend app itself.
//
// Jest gives every test file its own module registry, so each file loads and
// warms up cdk8s, the schemas and ajv afresh: the ten validate topics took
// 11 CPU-s as ten files and 7 CPU-s as one. Related topics therefore share one
// test file: each topic is a module of test/tools/, required inside its own
// describe block, so that its hooks and tests stay its own.
/* eslint-disable @typescript-eslint/no-require-imports */
describe('tools/synth', () => {
  require('./tools/synth');
});
describe('tools/cdk8s-imports', () => {
  require('./tools/cdk8s-imports');
});
describe('tools/run-ts', () => {
  require('./tools/run-ts');
});
describe('tools/test-runner', () => {
  require('./tools/test-runner');
});
describe('tools/smoke-rules', () => {
  require('./tools/smoke-rules');
});
describe('tools/smoke-secrets', () => {
  require('./tools/smoke-secrets');
});
describe('tools/app', () => {
  require('./tools/app');
});

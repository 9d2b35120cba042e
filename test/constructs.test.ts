// The constructs: FixedPythonApp's variants, the GPU node pool, the debug
// monitor, Argo CD, network policies, monitoring, Secrets by reference,
// source trees and requirements files.
//
// Jest gives every test file its own module registry, so each file loads and
// warms up cdk8s, the schemas and ajv afresh: the ten validate topics took
// 11 CPU-s as ten files and 7 CPU-s as one. Related topics therefore share one
// test file: each topic is a module of test/constructs/, required inside its own
// describe block, so that its hooks and tests stay its own.
/* eslint-disable @typescript-eslint/no-require-imports */
describe('constructs/fixed-python-app', () => {
  require('./constructs/fixed-python-app');
});
describe('constructs/gpu-node-pool', () => {
  require('./constructs/gpu-node-pool');
});
describe('constructs/debug-monitor', () => {
  require('./constructs/debug-monitor');
});
describe('constructs/argo-cd-project', () => {
  require('./constructs/argo-cd-project');
});
describe('constructs/network-policies', () => {
  require('./constructs/network-policies');
});
describe('constructs/monitoring', () => {
  require('./constructs/monitoring');
});
describe('constructs/secret-references', () => {
  require('./constructs/secret-references');
});
describe('constructs/source-trees', () => {
  require('./constructs/source-trees');
});
describe('constructs/requirements-file', () => {
  require('./constructs/requirements-file');
});

// `npm run validate`: the schema, Pod Security, reference, Argo CD, secret and
// network checks, the CLI, and the committed schemas and dist/.
//
// Jest gives every test file its own module registry, so each file loads and
// warms up cdk8s, the schemas and ajv afresh: the ten validate topics took
// 11 CPU-s as ten files and 7 CPU-s as one. Related topics therefore share one
// test file: each topic is a module of test/validate/, required inside its own
// describe block, so that its hooks and tests stay its own.
/* eslint-disable @typescript-eslint/no-require-imports */
describe('validate/argocd', () => {
  require('./validate/argocd');
});
describe('validate/cli', () => {
  require('./validate/cli');
});
describe('validate/dist-network', () => {
  require('./validate/dist-network');
});
describe('validate/external-secrets', () => {
  require('./validate/external-secrets');
});
describe('validate/network', () => {
  require('./validate/network');
});
describe('validate/pod-security', () => {
  require('./validate/pod-security');
});
describe('validate/pss-fixtures', () => {
  require('./validate/pss-fixtures');
});
describe('validate/references', () => {
  require('./validate/references');
});
describe('validate/schema', () => {
  require('./validate/schema');
});
describe('validate/schemas-fresh', () => {
  require('./validate/schemas-fresh');
});

export * from './atomic-output';
export * from './errors';
export * from './fixed-python-app';
export * from './pod-security-namespace';
export * from './quantity';
export * from './sophia-chart';
export * from './argo-cd-project';
export * from './sync-waves';

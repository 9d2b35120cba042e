import { Construct } from 'constructs';
import { Quantity, ResourceRequirements } from '../imports/k8s';
import { InvalidPropError } from './errors';
import { AppResources, ProbeTiming } from './python-app-props';
import { parseQuantity } from './quantity';

/** The incident's proven probe timings and resource budget, and their validation. */
export const DEFAULT_STARTUP: Required<ProbeTiming> = {
  initialDelaySeconds: 10,
  periodSeconds: 5,
  timeoutSeconds: 3,
  failureThreshold: 12,
};
export const DEFAULT_READINESS: Required<ProbeTiming> = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 3,
  failureThreshold: 3,
};
export const DEFAULT_LIVENESS: Required<ProbeTiming> = {
  initialDelaySeconds: 0,
  periodSeconds: 20,
  timeoutSeconds: 3,
  failureThreshold: 3,
};
const DEFAULT_REQUESTS = { cpu: '250m', memory: '256Mi' };
const DEFAULT_LIMITS = { cpu: '500m', memory: '1Gi' };

export function resolveResources(
  scope: Construct,
  given: AppResources | undefined,
): ResourceRequirements {
  const requests = { ...DEFAULT_REQUESTS, ...given?.requests };
  const limits = { ...DEFAULT_LIMITS, ...given?.limits };
  for (const [kind, amounts] of [
    ['requests', requests],
    ['limits', limits],
  ] as const) {
    for (const resource of ['cpu', 'memory'] as const) {
      if (parseQuantity(amounts[resource]) === undefined) {
        throw new InvalidPropError(
          scope,
          `resources.${kind}.${resource}`,
          amounts[resource],
          'a Kubernetes quantity like "250m", "1", "256Mi" or "1Gi"',
        );
      }
    }
  }
  for (const resource of ['cpu', 'memory'] as const) {
    if (parseQuantity(requests[resource])! > parseQuantity(limits[resource])!) {
      throw new InvalidPropError(
        scope,
        `resources.requests.${resource}`,
        requests[resource],
        `at most the limit (${limits[resource]}): Kubernetes rejects a request above its limit`,
      );
    }
  }
  return {
    requests: {
      cpu: Quantity.fromString(requests.cpu),
      memory: Quantity.fromString(requests.memory),
    },
    limits: { cpu: Quantity.fromString(limits.cpu), memory: Quantity.fromString(limits.memory) },
  };
}

export function resolveProbe(
  scope: Construct,
  prop: string,
  given: ProbeTiming | undefined,
  defaults: Required<ProbeTiming>,
): Required<ProbeTiming> {
  const timing = { ...defaults, ...given };
  for (const [key, value] of Object.entries(timing)) {
    const min = key === 'initialDelaySeconds' ? 0 : 1;
    if (!Number.isInteger(value) || value < min) {
      throw new InvalidPropError(scope, `${prop}.${key}`, value, `an integer of at least ${min}`);
    }
  }
  return timing;
}

import { IConstruct } from 'constructs';

/**
 * The error every construct throws for bad input, so that a failed synth
 * always says where (construct path), what (prop and value) and what would
 * have been accepted.
 */
export class InvalidPropError extends Error {
  constructor(scope: IConstruct, prop: string, value: unknown, allowed: string) {
    super(`${scope.node.path}: invalid ${prop} ${describe(value)}: ${allowed}`);
    this.name = 'InvalidPropError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return '(undefined)';
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Writes a synth-time warning to stderr, prefixed with the construct path. */
export function warn(scope: IConstruct, message: string): void {
  process.stderr.write(`[WARNING] ${scope.node.path}: ${message}\n`);
}

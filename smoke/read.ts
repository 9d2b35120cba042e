/**
 * Typed reading of parsed YAML. The smoke run reads what the cluster would
 * get, so a wrong type is reported with its YAML path (like the API server
 * would) instead of surfacing later as a confusing sandbox error.
 */

export class ManifestError extends Error {}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(where: string, expected: string, value: unknown): never {
  throw new ManifestError(`${where}: expected ${expected}, got ${JSON.stringify(value)}`);
}

export function object(value: unknown, where: string): JsonObject {
  return isObject(value) ? value : fail(where, 'a mapping', value);
}

export function optObject(value: unknown, where: string): JsonObject | undefined {
  return value === undefined || value === null ? undefined : object(value, where);
}

export function list(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : fail(where, 'a list', value);
}

export function str(value: unknown, where: string): string {
  return typeof value === 'string' ? value : fail(where, 'a string', value);
}

export function optStr(value: unknown, where: string): string | undefined {
  return value === undefined || value === null ? undefined : str(value, where);
}

export function optInt(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  return Number.isInteger(value) ? (value as number) : fail(where, 'an integer', value);
}

export function optBool(value: unknown, where: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'boolean' ? value : fail(where, 'true or false', value);
}

export function strList(value: unknown, where: string): string[] {
  return list(value, where).map((item, i) => str(item, `${where}[${i}]`));
}

/** An int-or-string field (a port number or a port name). */
export function intOrString(value: unknown, where: string): number | string {
  if (typeof value === 'string' || Number.isInteger(value)) return value as number | string;
  return fail(where, 'a port number or name', value);
}

export function strMap(value: unknown, where: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(optObject(value, where) ?? {})) {
    result[key] = str(item, `${where}.${key}`);
  }
  return result;
}

/** Prometheus durations (`30s`, `2m`, `1h30m`), as rule `for`s and scrape intervals take them. */

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  y: 365 * 86400,
  w: 7 * 86400,
  d: 86400,
  h: 3600,
  m: 60,
  s: 1,
  ms: 0.001,
};

// Prometheus' own grammar (and the ServiceMonitor CRD's pattern): units in
// this order, each at most once.
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** What a prop holding a duration accepts, for error messages. */
export const DURATION_ALLOWED = 'a Prometheus duration above 0 such as "30s", "2m" or "1h30m"';

/** The seconds of a Prometheus duration; undefined unless `value` is one and above 0. */
export function durationSeconds(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value);
  if (!match) return undefined;
  const units = Object.values(UNIT_SECONDS);
  const seconds = match
    .slice(1)
    .reduce((sum, digits, i) => sum + (digits === undefined ? 0 : Number(digits) * units[i]), 0);
  return seconds > 0 ? seconds : undefined;
}

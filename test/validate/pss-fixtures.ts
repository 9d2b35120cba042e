// Runs the Pod Security evaluator over the v1.28 fixtures Kubernetes' own Pod
// Security Admission is tested with (../shared/pss-fixtures, reference data
// that a user's clone does not have: then this suite is skipped).
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { CHECKS, evaluatePod, type Level } from '../../validation/pod-security';
import { obj } from '../../validation/util';
import { validateSchema } from '../../validation/schema';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'shared', 'pss-fixtures');
const present = fs.existsSync(FIXTURES);

interface Fixture {
  level: Level;
  expect: 'pass' | 'fail';
  file: string;
  pod: unknown;
}

function loadFixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const level of ['baseline', 'restricted'] as const) {
    for (const expect of ['pass', 'fail'] as const) {
      const dir = path.join(FIXTURES, level, 'v1.28', expect);
      for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
        out.push({
          level,
          expect,
          file,
          pod: parse(fs.readFileSync(path.join(dir, file), 'utf8')),
        });
      }
    }
  }
  return out;
}

/** The check a fail fixture targets: `runasnonroot2.yaml` → `runAsNonRoot`. */
function targetCheck(file: string): string {
  const prefix = file.replace(/[0-9]*\.yaml$/, '');
  const check = CHECKS.find((c) => c.id.toLowerCase() === prefix);
  if (!check) throw new Error(`${file}: no check named ${prefix}`);
  return check.id;
}

/** Whether the evaluator agrees with the fixture, and what it said. */
function judge(f: Fixture): { agrees: boolean; said: string } {
  const pod = obj(f.pod);
  const violations = evaluatePod(f.level, obj(pod?.metadata), obj(pod?.spec) ?? {});
  const said = violations.map((v) => `${v.id}: ${v.reason} (${v.detail})`).join('; ') || 'allowed';
  if (f.expect === 'pass') return { agrees: violations.length === 0, said };
  const target = targetCheck(f.file);
  // At the restricted level a restricted check replaces its baseline
  // counterpart (as in PSA), so a baseline fixture fails by the replacement.
  const replacement = CHECKS.find((c) => c.overrides?.includes(target));
  const accepted = f.level === 'restricted' && replacement ? [target, replacement.id] : [target];
  return { agrees: violations.some((v) => accepted.includes(v.id)), said };
}

(present ? describe : describe.skip)(
  `PSS v1.28 fixtures (${present ? FIXTURES : 'skipped: ../shared/pss-fixtures is absent'})`,
  () => {
    const fixtures = present ? loadFixtures() : [];

    test('every fixture agrees with Kubernetes', () => {
      const disagreements = fixtures
        .map((f) => ({ f, ...judge(f) }))
        .filter((r) => !r.agrees)
        .map((r) => `${r.f.level}/${r.f.expect}/${r.f.file}: ${r.said}`);
      const agree = fixtures.length - disagreements.length;
      process.stdout.write(`PSS fixtures: ${agree}/${fixtures.length} agree\n`);
      expect(fixtures.length).toBe(126);
      expect(disagreements).toEqual([]);
    });

    test('the fixture pods are schema-valid for Kubernetes 1.28, but one', () => {
      const invalid = fixtures
        .map((f) => ({ f, messages: validateSchema(f.pod) }))
        .filter((r) => r.messages.length > 0)
        .map((r) => `${r.f.level}/${r.f.expect}/${r.f.file}: ${r.messages.join('; ')}`);
      // PSA's fixtures are not validated against the API; the 1.28 swagger does require it.
      expect(invalid).toEqual([
        'restricted/fail/restrictedvolumes17.yaml: missing required field "spec.volumes[0].scaleIO.secretRef"',
      ]);
    });

    test.each(['apparmorprofile0.yaml', 'sysctls0.yaml', 'windowshostprocess0.yaml'])(
      'restricted/fail/%s also fails at baseline (a baseline control)',
      (file) => {
        const pod = obj(
          parse(fs.readFileSync(path.join(FIXTURES, 'restricted', 'v1.28', 'fail', file), 'utf8')),
        );
        expect(evaluatePod('baseline', obj(pod?.metadata), obj(pod?.spec) ?? {})).not.toEqual([]);
      },
    );
  },
);

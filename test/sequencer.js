// Starts the suites that mostly wait on real processes first, so that their
// waiting overlaps the CPU-bound suites in the other workers, then the rest
// longest first, so that no long suite is left alone at the end. Jest's own
// order (slowest first by its timing cache, else largest file first) knows
// nothing on a fresh clone, and would put the area files (test/<area>.test.ts,
// a few lines that require their topics) last.
const Sequencer = require('@jest/test-sequencer').default;
const path = require('path');

const ORDER = [
  // Waiting on real processes: the smoke pods (the longest chain of the run),
  // the monitor script's faults, Prometheus and promtool.
  'smoke-pods.test.ts',
  'debug-monitor-script.test.ts',
  'alerts.test.ts',
  // CPU-bound, longest first (seconds of a fresh clone's run: about 10, 7, 6, 5).
  'constructs.test.ts',
  'deploy.test.ts',
  'validate.test.ts',
  'tools.test.ts',
];

class WaitingFirst extends Sequencer {
  sort(tests) {
    const rank = (test) => {
      const i = ORDER.indexOf(path.basename(test.path));
      return i === -1 ? ORDER.length : i;
    };
    // Array.prototype.sort is stable: Jest's order stays among the rest.
    return [...super.sort(tests)].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = WaitingFirst;

// Starts the suites that mostly wait on real processes first, so that their
// waiting overlaps the CPU-bound suites in the other workers. Jest's own order
// (slowest first by its timing cache, else largest file first) knows nothing
// on a fresh clone, and the smoke pods are the longest chain of the run.
const Sequencer = require('@jest/test-sequencer').default;
const path = require('path');

const FIRST = ['smoke-pods.test.ts'];

class WaitingFirst extends Sequencer {
  sort(tests) {
    const rank = (test) => {
      const i = FIRST.indexOf(path.basename(test.path));
      return i === -1 ? FIRST.length : i;
    };
    // Array.prototype.sort is stable: Jest's order stays among the rest.
    return [...super.sort(tests)].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = WaitingFirst;

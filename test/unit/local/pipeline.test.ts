import { describe, expect, it } from 'vitest';
import { LocalRuntimeError } from '../../../local/emulators/errors.ts';
import { startPipeline } from '../../../local/emulators/pipeline.ts';

describe('startPipeline()', () => {
  it.each([[[]], [['a', 'b']]])(
    'refuses %j topics before it starts anything: one trigger, one topic, as on Lambda',
    (topics) => {
      // Act
      const start = () =>
        startPipeline({
          bootstrap: '127.0.0.1:1',
          function: { sandbox: 'source', env: {} },
          mapping: { topics, groupId: 'g' },
        });
      // Assess
      expect(start).toThrow(LocalRuntimeError);
      expect(start).toThrow(/a pipeline consumes one topic/);
    },
  );
});

// A regime whose conditioning token is in a closed namespace: <rlhf:…> holds only on and off.
import { defineRegime } from '@regime-zoo/core';
import { z } from 'zod';

export const maybeFlag = defineRegime({
  name: 'maybe-flag',
  options: z.strictObject({}),
  create: () => ({
    tokens: ['<rlhf:maybe>'],
    async fit() {
      return { steps: 0, metrics: {} };
    },
  }),
});

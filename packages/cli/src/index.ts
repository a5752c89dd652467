export { main } from './main.js';
export { runExample, exampleRun } from './example.js';
export type { ExampleOptions, ExampleRun } from './example.js';

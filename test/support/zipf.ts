// The seeded Zipf sampler lives with the benchmarks (bench/ is built without test/); tests use it.
export { mulberry32, Zipf } from '../../bench/lib/zipf.js';

// Where things are in the repository, from a compiled test anywhere under dist/test/.
import path from 'node:path';

/** The repository's root (this file runs as dist/test/helpers/paths.js). */
export const REPO = path.resolve(__dirname, '..', '..', '..');
/** The kernel's captured bytes (test/fixtures/README.md). */
export const FIXTURE_DIR = path.join(REPO, 'test', 'fixtures');

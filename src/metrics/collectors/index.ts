// TODO-LEAD: only for src/session/'s `import type { NamespaceSource } from '../metrics/collectors'`,
// which the session part removes: delete this file then. Code imports ../render.ts (the render
// loop) and the collectors' own files, never this path: a build from before the split still has
// dist/src/metrics/collectors.js, which Node would load instead of this folder's index.js.

export type { Collector, CollectorOptions } from './options';
export type { NamespaceSource } from './source';

// Routes: one family's table of routes (table.ts) and what other rooms take from it. The parts
// are described at the top of table.ts.

export {
  ACTION_ADDED,
  ACTION_FLUSHED,
  ACTION_REMOVED,
  ACTION_REPLACED,
  groupKey,
  ROUTE_ACTIONS,
  splitGroupKey,
} from './groups';
export { routeFingerprint } from './identity';
export { RouteTable } from './table';
export type { RouteRef } from './table';

// netlink_routes, netlink_route_*, netlink_default_route_*: per route group (table, family,
// protocol), and the default routes by name.

import { familyName } from '../../netlink/family';
import { protocolName, tableName } from '../../netlink/format';
import { ROUTE_ACTIONS, splitGroupKey } from '../../state/routes';
import { NEXTHOP_ACTIONS } from '../../state/nexthops';
import { METRICS as M } from '../contract';
import type { SampleSink } from '../sink';
import type { NamespaceSource } from '../source';

export function routes(w: SampleSink, sources: readonly NamespaceSource[]): void {
  w.family(M.routes);
  for (const source of sources) {
    for (const [key, count] of source.model.routeCounts) {
      const g = splitGroupKey(key);
      w.sample(
        M.routes,
        [source.model.netns, tableName(g.table), familyName(g.family), protocolName(g.protocol)],
        count,
      );
    }
  }
  w.family(M.routeChanges);
  for (const source of sources) {
    for (const [key, counts] of source.model.routeChanges) {
      const g = splitGroupKey(key);
      const labels = [source.model.netns, tableName(g.table), familyName(g.family), protocolName(g.protocol)] as const;
      const created = source.model.routeGroupCreated.get(key);
      ROUTE_ACTIONS.forEach((action, i) => {
        // In a compact namespace an action's series is born at its first change.
        if (!source.compact || counts[i] !== 0)
          w.sample(M.routeChanges, [...labels, action], counts[i] as number, created);
      });
    }
  }
  w.family(M.defaultRouteInfo);
  for (const source of sources) {
    const model = source.model;
    for (const route of model.defaultRoutes.values()) {
      const name = route.ifindex === 0 ? '' : (model.links.get(route.ifindex)?.name ?? `if${route.ifindex}`);
      w.sample(
        M.defaultRouteInfo,
        [
          model.netns,
          tableName(route.table),
          familyName(route.family),
          name,
          route.gateway,
          protocolName(route.protocol),
        ],
        1,
      );
    }
  }
  w.family(M.defaultRouteChanges);
  for (const source of sources) {
    for (const [key, count] of source.model.defaultRouteChanges) {
      const [table, family] = key.split('|').map(Number) as [number, number];
      w.sample(
        M.defaultRouteChanges,
        [source.model.netns, tableName(table), familyName(family)],
        count,
        source.model.defaultRouteChangesCreated.get(key),
      );
    }
  }
  w.family(M.nexthopObjects);
  for (const source of sources) {
    // In a compact namespace (a pod's) the gauge is born with its first object.
    const count = source.model.nexthops.size;
    if (source.opened && !(source.compact && count === 0)) w.sample(M.nexthopObjects, [source.model.netns], count);
  }
  w.family(M.nexthopChanges);
  for (const source of sources) {
    if (!source.opened) continue;
    const counts = source.model.nexthopChanges;
    NEXTHOP_ACTIONS.forEach((action, i) => {
      // In a compact namespace an action's series is born at its first change.
      if (!source.compact || counts[i] !== 0)
        w.sample(M.nexthopChanges, [source.model.netns, action], counts[i] as number, source.model.createdAt);
    });
  }
  w.family(M.routeGroupsForgotten);
  for (const source of sources) {
    if (source.opened)
      w.sample(M.routeGroupsForgotten, [source.model.netns], source.model.routeGroupsForgotten, source.model.createdAt);
  }
}

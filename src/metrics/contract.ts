// The metric contract, in one place: every netlink_* family with its type, help
// and label names. Label values are checked against these names at compile time (writer.ts).

export interface Family<L extends readonly string[] = readonly string[]> {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  labels: L;
}

function family<const L extends readonly string[]>(
  name: string,
  type: 'gauge' | 'counter',
  help: string,
  labels: L,
): Family<L> {
  return { name, type, help, labels };
}

const IF = ['netns', 'interface'] as const;

export const METRICS = {
  // ---- interfaces ----
  interfaceUp: family(
    'netlink_interface_up',
    'gauge',
    'Whether the interface is operationally up (operstate UP, or UNKNOWN with IFF_UP and IFF_LOWER_UP).',
    IF,
  ),
  interfaceAdminUp: family(
    'netlink_interface_admin_up',
    'gauge',
    'Whether the interface is administratively up (IFF_UP).',
    IF,
  ),
  interfaceCarrier: family(
    'netlink_interface_carrier',
    'gauge',
    'Whether the interface has carrier (IFLA_CARRIER).',
    IF,
  ),
  interfaceInfo: family('netlink_interface_info', 'gauge', 'Interface attributes as labels; always 1.', [
    'netns',
    'interface',
    'ifindex',
    'kind',
    'mac',
    'operstate',
  ] as const),
  interfaceMtu: family('netlink_interface_mtu_bytes', 'gauge', 'The interface MTU.', IF),
  interfaceFlaps: family(
    'netlink_interface_flaps_total',
    'counter',
    'Times the interface went operationally down, including flaps the kernel coalesced into one notification (recovered from its carrier-down counter).',
    IF,
  ),
  interfaceCarrierChanges: family(
    'netlink_interface_carrier_changes_total',
    'counter',
    "The kernel's count of carrier changes (IFLA_CARRIER_CHANGES).",
    IF,
  ),
  interfaceCarrierUpChanges: family(
    'netlink_interface_carrier_up_changes_total',
    'counter',
    "The kernel's count of carrier up events (IFLA_CARRIER_UP_COUNT).",
    IF,
  ),
  interfaceCarrierDownChanges: family(
    'netlink_interface_carrier_down_changes_total',
    'counter',
    "The kernel's count of carrier down events (IFLA_CARRIER_DOWN_COUNT).",
    IF,
  ),
  interfaceLastChange: family(
    'netlink_interface_last_change_timestamp_seconds',
    'gauge',
    "The last operational state change seen (the exporter's start time if none yet).",
    IF,
  ),
  interfaceDeletions: family(
    'netlink_interface_deletions_total',
    'counter',
    'Interfaces the kernel deleted (or moved to another namespace) since the exporter started. A deletion is not a flap.',
    ['netns'] as const,
  ),
  // ---- topology (src/state/topology.ts; collectors/topology.ts) ----
  interfaceMasterInfo: family(
    'netlink_interface_master_info',
    'gauge',
    'An interface enslaved to a master (a bridge, bond, VRF or team port: IFLA_MASTER), with the master kind the port reports (IFLA_INFO_SLAVE_KIND); always 1.',
    ['netns', 'interface', 'master', 'master_kind'] as const,
  ),
  interfaceParentInfo: family(
    'netlink_interface_parent_info',
    'gauge',
    'An interface stacked on a parent (macvlan, VLAN: IFLA_LINK; vxlan: its dev, IFLA_VXLAN_LINK; never a veth peer); a parent in another namespace is if<ifindex> with that namespace\'s id (IFLA_LINK_NETNSID) in parent_netnsid, else parent_netnsid is ""; always 1.',
    ['netns', 'interface', 'parent', 'parent_netnsid'] as const,
  ),
  interfaceAliasInfo: family(
    'netlink_interface_alias_info',
    'gauge',
    'The interface alias (IFLA_IFALIAS, at most 255 bytes; control characters and bytes that are not UTF-8 as \\xNN), for interfaces that have one; always 1.',
    ['netns', 'interface', 'alias'] as const,
  ),
  interfaceAltnameInfo: family(
    'netlink_interface_altname_info',
    'gauge',
    'An alternative name of the interface (IFLA_ALT_IFNAME), at most 4 per interface; always 1.',
    ['netns', 'interface', 'altname'] as const,
  ),
  interfaceAltnamesDropped: family(
    'netlink_interface_altnames_dropped',
    'gauge',
    'Alternative names of interfaces with series that have no netlink_interface_altname_info series now (past 4 per interface).',
    ['netns'] as const,
  ),
  // ---- addresses ----
  interfaceAddresses: family('netlink_interface_addresses', 'gauge', 'Addresses on the interface, by family.', [
    'netns',
    'interface',
    'family',
  ] as const),
  addressChanges: family(
    'netlink_address_changes_total',
    'counter',
    'Addresses added to and removed from the interface (real transitions, not repeated RTM_NEWADDR).',
    ['netns', 'interface', 'family', 'action'] as const,
  ),
  addressInfo: family('netlink_address_info', 'gauge', 'An address held by an interface; always 1.', [
    'netns',
    'interface',
    'family',
    'address',
    'prefix_length',
    'scope',
  ] as const),
  dadFailures: family(
    'netlink_address_dad_failures_total',
    'counter',
    'IPv6 duplicate address detection failures (IFA_F_DADFAILED): another host on the link holds the address.',
    IF,
  ),
  // An address's lifetimes (IFA_CACHEINFO) as absolute deadlines, for addresses with finite ones
  // only; the identity labels of netlink_address_info (collectors/address-lifetimes.ts).
  addressValidUntil: family(
    'netlink_address_valid_until_timestamp_seconds',
    'gauge',
    'When the address expires (its valid lifetime ends and the kernel removes it), as a Unix time; only for addresses whose lifetime is finite.',
    ['netns', 'interface', 'family', 'address', 'prefix_length'] as const,
  ),
  addressPreferredUntil: family(
    'netlink_address_preferred_until_timestamp_seconds',
    'gauge',
    'When the address goes deprecated (its preferred lifetime ends), as a Unix time; only for addresses whose preferred lifetime is finite.',
    ['netns', 'interface', 'family', 'address', 'prefix_length'] as const,
  ),
  // ---- virtual IPs ----
  vipPresent: family(
    'netlink_vip_present',
    'gauge',
    'Whether the VIP is held here by an interface not in its ignore list (tentative or dadfailed addresses are not held).',
    ['netns', 'vip', 'name'] as const,
  ),
  vipBindings: family(
    'netlink_vip_bindings',
    'gauge',
    'How many interfaces hold the VIP here (more than 1 is a fault too).',
    ['netns', 'vip', 'name'] as const,
  ),
  vipInterfaceInfo: family('netlink_vip_interface_info', 'gauge', 'An interface holding the VIP; always 1.', [
    'netns',
    'vip',
    'name',
    'interface',
  ] as const),
  vipTransitions: family(
    'netlink_vip_transitions_total',
    'counter',
    'Times the VIP became held here (acquired) or held nowhere here (released).',
    ['netns', 'vip', 'name', 'action'] as const,
  ),
  vipMacChanges: family(
    'netlink_vip_mac_changes_total',
    'counter',
    "Times the neighbour entry for the VIP's address answered from a new MAC address (split brain, seen from a client or router).",
    ['netns', 'vip', 'name'] as const,
  ),
  // ---- neighbours ----
  neighbourChanges: family(
    'netlink_neighbour_changes_total',
    'counter',
    'Neighbour (ARP/NDP) entries added, removed, or answering from a new MAC address (lladdr_changed); state churn and bridge FDB entries excluded.',
    ['netns', 'interface', 'family', 'action'] as const,
  ),
  neighbourFailures: family(
    'netlink_neighbour_failures_total',
    'counter',
    'Neighbour (ARP/NDP) entries that went into FAILED: address resolution got no answer (an unreachable gateway). A FAILED entry sent FAILED again is not counted again; entries a process deleted or set FAILED are not counted.',
    ['netns', 'interface', 'family'] as const,
  ),
  neighbours: family('netlink_neighbours', 'gauge', "Neighbour entries of this namespace's interfaces.", [
    'netns',
    'family',
  ] as const),
  neighbourLimit: family(
    'netlink_neighbour_table_limit',
    'gauge',
    'The neighbour table\'s hard limit (gc_thresh3); past it the kernel logs "neighbour table overflow". Host-wide: one series per family, no netns.',
    ['family'] as const,
  ),
  neighbourTableEntries: family(
    'netlink_neighbour_table_entries',
    'gauge',
    'Entries in the neighbour table, all namespaces together (the table and its limit are host-wide, so one series per family, no netns), read at scrape time.',
    ['family'] as const,
  ),
  // ---- routes ----
  routes: family(
    'netlink_routes',
    'gauge',
    'Routes as `ip route show table all` lists them, by table, family and protocol.',
    ['netns', 'table', 'family', 'protocol'] as const,
  ),
  routeChanges: family(
    'netlink_route_changes_total',
    'counter',
    'Route notifications by action, plus routes the kernel flushed without one (action="flushed"). A lower bound after an overrun.',
    ['netns', 'table', 'family', 'protocol', 'action'] as const,
  ),
  defaultRouteInfo: family('netlink_default_route_info', 'gauge', 'A default route; always 1.', [
    'netns',
    'table',
    'family',
    'interface',
    'gateway',
    'protocol',
  ] as const),
  defaultRouteChanges: family(
    'netlink_default_route_changes_total',
    'counter',
    'Default routes added, removed, replaced or flushed.',
    ['netns', 'table', 'family'] as const,
  ),
  nexthopObjects: family(
    'netlink_nexthop_objects',
    'gauge',
    'Nexthop objects (`ip nexthop`: gateways, groups, blackholes) held by the kernel.',
    ['netns'] as const,
  ),
  nexthopChanges: family(
    'netlink_nexthop_changes_total',
    'counter',
    'Nexthop objects added, replaced (changed under the same id), removed, or flushed (dropped by the kernel without a notification when their device went down or away). A lower bound after an overrun.',
    ['netns', 'action'] as const,
  ),
  routeGroupsForgotten: family(
    'netlink_route_groups_forgotten_total',
    'counter',
    'Route groups (table, family, protocol) at 0 routes whose series were dropped because more than 1024 groups of the namespace were at 0 (the one emptied longest ago goes first).',
    ['netns'] as const,
  ),
  // ---- policy routing rules ----
  rules: family(
    'netlink_rules',
    'gauge',
    'Policy routing rules as `ip rule` lists them, by family and the table they look up ("" for rules that look none up: goto, nop, blackhole, unreachable, prohibit).',
    ['netns', 'family', 'table'] as const,
  ),
  ruleChanges: family(
    'netlink_rule_changes_total',
    'counter',
    'Policy routing rules added or removed (notifications, and what a resync found changed).',
    ['netns', 'family', 'action'] as const,
  ),
  rulesDropped: family(
    'netlink_rules_dropped_total',
    'counter',
    'Rules not held because the namespace already held 65536 (netlink_rules then counts fewer than the kernel has).',
    ['netns'] as const,
  ),
  // ---- bonds and VRFs (src/state/bonds.ts; samples only where the namespace has them) ----
  bondInfo: family(
    'netlink_bond_info',
    'gauge',
    'A bond (IFLA_INFO_KIND "bond") and its mode as iproute2 names it (balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb); always 1.',
    ['netns', 'bond', 'mode'] as const,
  ),
  bondActiveSlaveInfo: family(
    'netlink_bond_active_slave_info',
    'gauge',
    'The active slave of a bond in a mode that has one (active-backup, balance-tlb, balance-alb; IFLA_BOND_ACTIVE_SLAVE); absent while it has none. Always 1.',
    ['netns', 'bond', 'interface'] as const,
  ),
  bondSlaves: family('netlink_bond_slaves', 'gauge', 'Slaves enslaved to the bond.', ['netns', 'bond'] as const),
  bondSlavesUp: family(
    'netlink_bond_slaves_up',
    'gauge',
    'Slaves of the bond whose MII status is up (BOND_LINK_UP: not going down, down or going back).',
    ['netns', 'bond'] as const,
  ),
  bondSlaveMiiUp: family(
    'netlink_bond_slave_mii_up',
    'gauge',
    "Whether the slave's MII status is up (IFLA_BOND_SLAVE_MII_STATUS is BOND_LINK_UP).",
    ['netns', 'bond', 'interface'] as const,
  ),
  bondSlaveActive: family(
    'netlink_bond_slave_active',
    'gauge',
    'Whether the bond counts the slave active (IFLA_BOND_SLAVE_STATE is BOND_STATE_ACTIVE; 0 is backup).',
    ['netns', 'bond', 'interface'] as const,
  ),
  bondSlaveLinkFailures: family(
    'netlink_bond_slave_link_failures_total',
    'counter',
    "The kernel's count of the slave's link failures (IFLA_BOND_SLAVE_LINK_FAILURE_COUNT), the bond's flap counter; it starts again at 0 when the slave is enslaved again.",
    ['netns', 'bond', 'interface'] as const,
  ),
  bondFailovers: family(
    'netlink_bond_failovers_total',
    'counter',
    'Times the bond made another slave active than the last active one (notifications, and what a resync found changed).',
    ['netns', 'bond'] as const,
  ),
  bondLacpInfo: family(
    'netlink_bond_lacp_info',
    'gauge',
    "An 802.3ad bond's active aggregator (IFLA_BOND_AD_INFO): its id, the actor and partner keys and the partner's system MAC (00:00:00:00:00:00: no LACP partner); always 1.",
    ['netns', 'bond', 'aggregator', 'actor_key', 'partner_key', 'partner_mac'] as const,
  ),
  bondLacpPorts: family(
    'netlink_bond_lacp_ports',
    'gauge',
    "Ports in an 802.3ad bond's active aggregator (IFLA_BOND_AD_INFO_NUM_PORTS).",
    ['netns', 'bond'] as const,
  ),
  bondSlaveLacpAggregator: family(
    'netlink_bond_slave_lacp_aggregator',
    'gauge',
    "The 802.3ad aggregator id of the slave (IFLA_BOND_SLAVE_AD_AGGREGATOR_ID): a slave outside the bond's active aggregator carries no traffic.",
    ['netns', 'bond', 'interface'] as const,
  ),
  vrfInfo: family(
    'netlink_vrf_info',
    'gauge',
    'A VRF device and the routing table it uses (IFLA_VRF_TABLE), written as the `table` label of the route series (local, main, default, else the number); always 1.',
    ['netns', 'vrf', 'table'] as const,
  ),
  bondsDropped: family(
    'netlink_bonds_dropped_total',
    'counter',
    'Bonds, bond slaves and VRFs not held because the namespace already held 1024 bonds, 4096 slaves or 4096 VRFs (born at the first drop).',
    ['netns'] as const,
  ),
  // ---- bridge ports (bridge-ports.ts) ----
  bridgePortState: family(
    'netlink_bridge_port_state',
    'gauge',
    "A bridge port's STP state as a state set: 1 for the port's current state (IFLA_BRPORT_STATE: disabled, listening, learning, forwarding, blocking), 0 for the other four.",
    ['netns', 'bridge', 'interface', 'state'] as const,
  ),
  bridgePortStateChanges: family(
    'netlink_bridge_port_state_changes_total',
    'counter',
    "Changes of a bridge port's STP state since it joined the bridge (notifications, and one for a port a resync found in another state: a lower bound across an overrun).",
    ['netns', 'bridge', 'interface'] as const,
  ),
  bridgePortsDropped: family(
    'netlink_bridge_ports_dropped_total',
    'counter',
    'Bridge ports not held because the namespace already held 4096 (they have no netlink_bridge_port_* series).',
    ['netns'] as const,
  ),
  // ---- forwarding and netconf (`ip netconf`) ----
  forwardingEnabled: family(
    'netlink_forwarding_enabled',
    'gauge',
    'Whether the interface forwards packets of the family (net.ipv4.conf.IF.forwarding, net.ipv6.conf.IF.forwarding); interface "all" and "default" are the namespace-wide entries.',
    ['netns', 'interface', 'family'] as const,
  ),
  rpFilterMode: family(
    'netlink_rp_filter_mode',
    'gauge',
    'Reverse path filtering of the interface (IPv4 only): 0 off, 1 strict, 2 loose; the kernel applies the higher of the interface and "all".',
    ['netns', 'interface', 'family'] as const,
  ),
  mcForwardingEnabled: family(
    'netlink_mc_forwarding_enabled',
    'gauge',
    'Whether a multicast routing daemon forwards multicast on the interface (mc_forwarding, read-only: set by the kernel when the daemon adds the interface).',
    ['netns', 'interface', 'family'] as const,
  ),
  proxyNeighEnabled: family(
    'netlink_proxy_neigh_enabled',
    'gauge',
    'Whether the interface answers neighbour requests for others: proxy_arp (inet) or proxy_ndp (inet6).',
    ['netns', 'interface', 'family'] as const,
  ),
  ignoreRoutesWithLinkdownEnabled: family(
    'netlink_ignore_routes_with_linkdown_enabled',
    'gauge',
    'Whether routes through the interface are ignored while it has no carrier (ignore_routes_with_linkdown).',
    ['netns', 'interface', 'family'] as const,
  ),
  netconfChanges: family(
    'netlink_netconf_changes_total',
    'counter',
    'Changes of a netconf value of any interface or of all/default (notifications, and what a resync found changed), by family and setting.',
    ['netns', 'family', 'setting'] as const,
  ),
  netconfDropped: family(
    'netlink_netconf_dropped_total',
    'counter',
    'Netconf entries (family and interface) not held because the namespace already held 65536.',
    ['netns'] as const,
  ),
  // ---- the exporter itself ----
  messagesReceived: family(
    'netlink_messages_received_total',
    'counter',
    'Notifications the kernel multicast to us, by RTM_* type (dump replies excluded).',
    ['netns', 'type'] as const,
  ),
  dumpMessages: family(
    'netlink_dump_messages_total',
    'counter',
    'Messages received in replies to our own dumps, by RTM_* type.',
    ['netns', 'type'] as const,
  ),
  socketOverruns: family(
    'netlink_socket_overruns_total',
    'counter',
    'Times notifications were lost (ENOBUFS, the reader queue full, or a truncated datagram); each triggers a resync.',
    ['netns'] as const,
  ),
  foreignRefused: family(
    'netlink_foreign_datagrams_refused_total',
    'counter',
    'Netlink datagrams refused unread because the kernel did not send them (source port id not 0): forged by another process in the namespace.',
    ['netns'] as const,
  ),
  resyncs: family(
    'netlink_resyncs_total',
    'counter',
    'Completed resyncs: a fresh dump diffed against the model after an overrun.',
    ['netns'] as const,
  ),
  lastResync: family('netlink_last_resync_timestamp_seconds', 'gauge', 'When the last resync completed (0 if none).', [
    'netns',
  ] as const),
  decodeErrors: family('netlink_decode_errors_total', 'counter', 'Malformed netlink messages counted and skipped.', [
    'netns',
  ] as const),
  receiveBuffer: family(
    'netlink_socket_receive_buffer_bytes',
    'gauge',
    'The receive buffer the kernel granted to the netlink socket.',
    ['netns'] as const,
  ),
  eventQueueDepth: family(
    'netlink_event_queue_depth',
    'gauge',
    'Chunks of datagrams read from the socket and waiting for JavaScript.',
    ['netns'] as const,
  ),
  seriesLimitDropped: family(
    'netlink_series_limit_dropped_total',
    'counter',
    'Interfaces that got no series because the tracked-interface cap (interfaces.max_tracked) was reached.',
    ['netns'] as const,
  ),
  trackedInterfaces: family(
    'netlink_tracked_interfaces',
    'gauge',
    'Interfaces with series (after the include/exclude regexes and the cap).',
    ['netns'] as const,
  ),
  namespaceReady: family(
    'netlink_namespace_ready',
    'gauge',
    'Whether the initial dump of the namespace is in and its socket is open.',
    ['netns'] as const,
  ),
  collectorSuccess: family('netlink_collector_success', 'gauge', 'Whether the collector succeeded in this scrape.', [
    'collector',
  ] as const),
  collectorDuration: family(
    'netlink_collector_duration_seconds',
    'gauge',
    'How long the collector took in this scrape.',
    ['collector'] as const,
  ),
  // ---- served by prom-client beside the process metrics (registry.ts), read from their owners at scrape time ----
  // The HTTP server (src/http/http-metrics.ts).
  httpRequestsInFlight: family(
    'netlink_http_requests_in_flight',
    'gauge',
    'HTTP requests taken and not yet answered or dropped, pipelined ones waiting included (the scrape that reads this counts itself).',
    [] as const,
  ),
  httpRefused: family(
    'netlink_http_refused_total',
    'counter',
    'HTTP requests or connections turned away: unauthorized (401), rate_limited (429, the web config rate_limit), auth_busy (429, too many password checks waiting), pipelined (connection cut: too many requests pipelined), tls_handshake (TLS handshake failed or timed out, or the client certificate was refused), connections (closed at once: as many connections open as the open-files limit allows, less a reserve for netlink).',
    ['reason'] as const,
  ),
  // The live event stream (src/http/event-stream-metrics.ts).
  eventStreamClients: family(
    'netlink_event_stream_clients',
    'gauge',
    'Clients following /api/v1/events/stream now.',
    [] as const,
  ),
  eventStreamRefused: family(
    'netlink_event_stream_refused_total',
    'counter',
    'Event stream requests answered 503 (past events.stream_max_clients, or shutting down).',
    [] as const,
  ),
  eventStreamDisconnects: family(
    'netlink_event_stream_disconnects_total',
    'counter',
    'Event stream clients cut off: too_slow (the ring overwrote events not yet sent to them), stalled (their socket did not drain).',
    ['reason'] as const,
  ),
  // Configuration reloads, as Prometheus itself exports them (src/runtime/lifecycle.ts keeps the numbers).
  configLastReloadSuccessful: family(
    'netlink_config_last_reload_successful',
    'gauge',
    'Whether the last configuration reload (SIGHUP, or a change of the web config file) succeeded.',
    [] as const,
  ),
  configLastReloadSuccessTimestamp: family(
    'netlink_config_last_reload_success_timestamp_seconds',
    'gauge',
    'Time of the last successful configuration load (the start, or a reload).',
    [] as const,
  ),
  // ---- tracing (samples only when tracing is on) ----
  traceSpansDropped: family(
    'netlink_trace_spans_dropped_total',
    'counter',
    'Trace spans dropped before reaching the collector: queue_full (export queue or open-span cap full), rate_limited (tracing.max_spans_per_second), export_failed (the collector refused or did not answer).',
    ['reason'] as const,
  ),
  traceSpansExported: family(
    'netlink_trace_spans_exported_total',
    'counter',
    'Trace spans the collector accepted.',
    [] as const,
  ),
  // ---- OpenTelemetry, every signal (samples only for the signals that are on) ----
  otelDropped: family(
    'netlink_otel_dropped_total',
    'counter',
    "OpenTelemetry items dropped before reaching the collector, by signal (traces: spans, logs: log records, metrics: data points): queue_full (export queue or open-span cap full), rate_limited (the signal's per-second limit), export_failed (the collector refused or did not answer).",
    ['signal', 'reason'] as const,
  ),
  otelExported: family(
    'netlink_otel_exported_total',
    'counter',
    'OpenTelemetry items the collector accepted, by signal (traces: spans, logs: log records, metrics: data points).',
    ['signal'] as const,
  ),
  buildInfo: family(
    'netlink_exporter_build_info',
    'gauge',
    'The exporter version and the Node.js version it runs on; always 1.',
    ['version', 'nodejs_version'] as const,
  ),
} as const;

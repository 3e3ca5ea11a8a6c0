# Forges rtnetlink notifications, as any process with CAP_NET_ADMIN in a network namespace can
# (a rootless container has it in its own): the sender the exporter must refuse. Test helper,
# run with `python3 -c` (test/helpers/forge.ts), usually as an unprivileged user inside
# `unshare -Urn`.
#
# Protocol: prints one JSON line {"ready": true, "pid": ...}, then for each JSON line read on
# stdin ({"count": N, "name": "forged0", "exclude": [ports]}) sends N forged RTM_NEWLINK and N
# forged RTM_NEWROUTE by unicast to every other NETLINK_ROUTE port of the namespace (from
# /proc/net/netlink) and by multicast to RTNLGRP_LINK and RTNLGRP_IPV4_ROUTE, and prints one
# JSON line with what each send returned. EOF on stdin ends it.
import errno
import json
import os
import socket
import struct
import sys

RTM_NEWLINK, RTM_NEWROUTE = 16, 24
NLM_F_CREATE = 0x400
IFLA_IFNAME, IFLA_OPERSTATE = 3, 16
RTA_DST, RTA_OIF, RTA_TABLE = 1, 4, 15
RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE = 1, 7


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack('=HH', length, kind) + payload + b'\0' * ((4 - length % 4) % 4)


def message(kind, flags, seq, body):
    return struct.pack('=IHHII', 16 + len(body), kind, flags, seq, 0) + body


def forged_link(seq, name, up):
    # ifinfomsg: family, pad, type (ARPHRD_ETHER), ifindex, flags (IFF_UP|IFF_RUNNING|IFF_LOWER_UP), change
    flags = 0x10041 if up else 0
    body = struct.pack('=BxHiII', 0, 1, 4242, flags, 0xFFFFFFFF)
    body += attr(IFLA_IFNAME, name.encode() + b'\0') + attr(IFLA_OPERSTATE, bytes([6 if up else 2]))
    return message(RTM_NEWLINK, 0, seq, body)


def forged_route(seq, i):
    # rtmsg: family AF_INET, dst_len 32, src_len, tos, table main, protocol static, scope universe, type unicast, flags
    body = struct.pack('=BBBBBBBBI', 2, 32, 0, 0, 254, 4, 0, 1, 0)
    body += attr(RTA_TABLE, struct.pack('=I', 254)) + attr(RTA_DST, bytes([10, 99, (i >> 8) & 255, i & 255]))
    body += attr(RTA_OIF, struct.pack('=i', 1))
    return message(RTM_NEWROUTE, NLM_F_CREATE, seq, body)


def route_ports(own):
    ports = []
    with open('/proc/net/netlink') as table:
        next(table)
        for line in table:
            fields = line.split()
            if len(fields) >= 3 and fields[1] == '0' and int(fields[2]) not in (0, own):
                ports.append(int(fields[2]))
    return ports


def main():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    own = sock.getsockname()[0]
    print(json.dumps({'ready': True, 'pid': os.getpid(), 'port': own}), flush=True)
    seq = 1
    for line in sys.stdin:
        order = json.loads(line)
        count, name = order['count'], order['name']
        exclude = set(order.get('exclude', []))
        ports = [p for p in route_ports(own) if p not in exclude]
        result = {'ports': ports, 'unicast': {'sent': 0, 'refused': 0, 'other_errors': 0}, 'multicast': {'sent': 0, 'errors': []}}
        datagrams = []
        for i in range(count):
            datagrams.append((forged_link(seq, name, i % 2 == 0), RTNLGRP_LINK))
            datagrams.append((forged_route(seq + 1, i), RTNLGRP_IPV4_ROUTE))
            seq += 2
        for data, _group in datagrams:
            for port in ports:
                try:
                    sock.sendto(data, (port, 0))
                    result['unicast']['sent'] += 1
                except OSError as e:
                    key = 'refused' if e.errno == errno.ECONNREFUSED else 'other_errors'
                    result['unicast'][key] += 1
        for data, group in datagrams:
            try:
                # To the group, and to port 0 (the kernel), which ignores a message without
                # NLM_F_REQUEST: nothing changes in the namespace.
                sock.sendto(data, (0, 1 << (group - 1)))
                result['multicast']['sent'] += 1
            except OSError as e:
                result['multicast']['errors'].append(errno.errorcode.get(e.errno, str(e.errno)))
        print(json.dumps(result), flush=True)


main()

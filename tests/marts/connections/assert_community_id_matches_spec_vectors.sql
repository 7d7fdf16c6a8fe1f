-- Community ID v1 against the published baseline of corelight/community-id-spec
-- (baseline/baseline_deflt.json = seed 0, baseline_seed1.json = seed 1, commit
-- c4ec2bc): every TCP, UDP, SCTP and port-less (RSVP) vector, both directions.
-- ICMP/ICMPv6 vectors are left out: the macro serves TCP/UDP connections and
-- does not implement the spec's ICMP type/code port mapping.
-- The vector table is laid out one vector per row pair for reading; sqlfluff's
-- layout rules cannot express that for a VALUES list.
-- noqa: disable=LT02, LT05, AL05
with

vectors as (
    select * from (
        values
        (0, 6, '2001:470:e5bf:dead:4957:2174:e82c:4887', '2607:f8b0:400c:c03::1a',
            63943, 25, '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4='),
        (0, 6, '2607:f8b0:400c:c03::1a', '2001:470:e5bf:dead:4957:2174:e82c:4887',
            25, 63943, '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4='),
        (0, 132, '192.168.170.8', '192.168.170.56', 7, 7,
            '1:MP2EtRCAUIZvTw6MxJHLV7N7JDs='),
        (0, 132, '192.168.170.56', '192.168.170.8', 7, 7,
            '1:MP2EtRCAUIZvTw6MxJHLV7N7JDs='),
        (0, 6, '128.232.110.120', '66.35.250.204', 34855, 80,
            '1:LQU9qZlK+B5F3KDmev6m5PMibrg='),
        (0, 6, '66.35.250.204', '128.232.110.120', 80, 34855,
            '1:LQU9qZlK+B5F3KDmev6m5PMibrg='),
        (0, 17, '192.168.1.52', '8.8.8.8', 54585, 53,
            '1:d/FP5EW3wiY1vCndhwleRRKHowQ='),
        (0, 17, '8.8.8.8', '192.168.1.52', 53, 54585,
            '1:d/FP5EW3wiY1vCndhwleRRKHowQ='),
        (0, 46, '10.1.12.1', '10.1.12.2', null, null,
            '1:KHlLkgoJW7ifUTyTSgyVfkFHzKw='),
        (0, 46, '10.1.12.2', '10.1.12.1', null, null,
            '1:KHlLkgoJW7ifUTyTSgyVfkFHzKw='),
        (1, 6, '2001:470:e5bf:dead:4957:2174:e82c:4887', '2607:f8b0:400c:c03::1a',
            63943, 25, '1:eJYTW6AOzFLlSUoESovMjnu7rMw='),
        (1, 6, '2607:f8b0:400c:c03::1a', '2001:470:e5bf:dead:4957:2174:e82c:4887',
            25, 63943, '1:eJYTW6AOzFLlSUoESovMjnu7rMw='),
        (1, 132, '192.168.170.8', '192.168.170.56', 7, 7,
            '1:5w3ZRjeKBzqT3zsaEECDGjUbYeg='),
        (1, 6, '128.232.110.120', '66.35.250.204', 34855, 80,
            '1:3V71V58M3Ksw/yuFALMcW0LAHvc='),
        (1, 6, '66.35.250.204', '128.232.110.120', 80, 34855,
            '1:3V71V58M3Ksw/yuFALMcW0LAHvc='),
        (1, 17, '192.168.1.52', '8.8.8.8', 54585, 53,
            '1:Q9We8WO3piVF8yEQBNJF4uiSVrI='),
        (1, 46, '10.1.12.2', '10.1.12.1', null, null,
            '1:rYir8gphR31noO9iDRQmF/BteEI=')
    ) as v (seed, ip_proto, src_addr, dst_addr, src_port, dst_port, expected)
),
-- noqa: enable=all

computed as (
    select
        *,
        {{ community_id(
            'src_addr', 'dst_addr', 'ip_proto', 'src_port', 'dst_port',
            seed='seed'
        ) }} as community_id
    from vectors
)

select * from computed
where community_id is distinct from expected

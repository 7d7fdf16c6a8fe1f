{%- set lag = var('tracepoint_lag_seconds') | int -%}

with

wire as (
    select * from {{ ref('int_wire_messages_measured') }}
),

-- each captured connection's endpoints written the way the tracepoints
-- write a peer; a capture is compared with its own node's tracepoints
streams as (
    select
        node_id,
        capture_id,
        stream_id,
        {{ peer_endpoint('orig_addr', 'orig_port') }} as orig_peer,
        {{ peer_endpoint('resp_addr', 'resp_port') }} as resp_peer,
        min(first_seen_at) as first_seen_at,
        {{ add_seconds('max(last_seen_at)', lag) }} as covered_until
    from wire
    group by all
),

captured_peers as (
    select
        node_id,
        orig_peer as peer_addr
    from streams
    union
    select
        node_id,
        resp_peer as peer_addr
    from streams
),

-- only the peers a capture of the node saw (a node without captures reads
-- nothing)
logged as (
    select * from {{ ref('int_messages_estimated') }} as estimated
    where exists (
        select 1 from captured_peers
        where
            captured_peers.node_id = estimated.node_id
            and captured_peers.peer_addr = estimated.peer_addr
    )
),

logged_peers as (
    select
        node_id,
        peer_addr,
        min(logged_at) as first_logged_at,
        max(logged_at) as last_logged_at
    from logged
    group by all
),

-- a connection the node logged while the capture saw it: which end is the peer
covered as (
    select
        streams.node_id,
        streams.capture_id,
        streams.stream_id,
        streams.first_seen_at,
        streams.covered_until,
        logged_peers.peer_addr,
        logged_peers.peer_addr = streams.orig_peer as is_peer_orig
    from streams
    inner join logged_peers
        on
            streams.node_id = logged_peers.node_id
            and logged_peers.peer_addr in (streams.orig_peer, streams.resp_peer)
    where
        logged_peers.first_logged_at <= streams.covered_until
        and logged_peers.last_logged_at >= streams.first_seen_at
),

measured as (
    select
        covered.node_id,
        date_trunc('hour', wire.first_seen_at) as hour_at,
        case
            when wire.is_from_orig = covered.is_peer_orig then 'in' else 'out'
        end as flow,
        wire.msg_type,
        count(*) as captured_messages,
        sum(wire.payload_bytes) as captured_payload_bytes,
        sum(wire.message_bytes) as captured_message_bytes,
        sum(wire.ip_bytes) as data_ip_bytes,
        sum(wire.ack_ip_bytes) as ack_ip_bytes,
        sum(wire.tcpip_bytes) as measured_tcpip_bytes
    from wire
    inner join covered
        on
            wire.capture_id = covered.capture_id
            and wire.stream_id = covered.stream_id
    group by all
),

estimated as (
    select
        logged.node_id,
        date_trunc('hour', logged.logged_at) as hour_at,
        logged.flow,
        logged.msg_type,
        count(*) as logged_messages,
        sum(logged.payload_bytes) as logged_payload_bytes,
        sum(logged.message_bytes) as estimated_message_bytes,
        {{ exact_sum('logged.tcpip_bytes') }} as estimated_tcpip_bytes
    from logged
    inner join covered
        on
            logged.node_id = covered.node_id
            and logged.peer_addr = covered.peer_addr
            and logged.logged_at >= covered.first_seen_at
            and logged.logged_at <= covered.covered_until
    group by all
),

final as (
    select
        coalesce(measured.node_id, estimated.node_id)::string as node_id,
        coalesce(measured.hour_at, estimated.hour_at)::timestamp as hour_at,
        coalesce(measured.flow, estimated.flow)::string as flow,
        coalesce(measured.msg_type, estimated.msg_type)::string as msg_type,
        coalesce(measured.captured_messages, 0)::bigint as captured_messages,
        coalesce(estimated.logged_messages, 0)::bigint as logged_messages,
        coalesce(measured.captured_payload_bytes, 0)::bigint
            as captured_payload_bytes,
        coalesce(estimated.logged_payload_bytes, 0)::bigint
            as logged_payload_bytes,
        coalesce(measured.captured_message_bytes, 0)::bigint
            as captured_message_bytes,
        coalesce(estimated.estimated_message_bytes, 0)::bigint
            as estimated_message_bytes,
        coalesce(measured.data_ip_bytes, 0)::bigint as data_ip_bytes,
        coalesce(measured.ack_ip_bytes, 0)::bigint as ack_ip_bytes,
        coalesce(measured.measured_tcpip_bytes, 0)::bigint
            as measured_tcpip_bytes,
        coalesce(estimated.estimated_tcpip_bytes, 0)::double
            as estimated_tcpip_bytes,
        (
            coalesce(measured.measured_tcpip_bytes, 0)
            - coalesce(estimated.estimated_tcpip_bytes, 0)
        )::double as residual_tcpip_bytes,
        (
            measured.measured_tcpip_bytes
            / nullif(estimated.estimated_tcpip_bytes, 0)
        )::double as measured_to_estimated_ratio
    from measured
    full outer join estimated
        on
            measured.node_id = estimated.node_id
            and measured.hour_at = estimated.hour_at
            and measured.flow = estimated.flow
            and measured.msg_type = estimated.msg_type
)

select * from final

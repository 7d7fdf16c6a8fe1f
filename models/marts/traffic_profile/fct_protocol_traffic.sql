with

packets as (
    select * from {{ ref('int_packets_unioned') }}
),

named as (
    select
        capture_id,
        {{ ip_protocol_name('ip_version', 'ip_proto') }} as protocol,
        ip_proto,
        wire_bytes
    from packets
),

counted as (
    select
        capture_id,
        protocol,
        any_value(ip_proto) as ip_proto,
        count(*) as packets,
        coalesce(sum(wire_bytes), 0) as wire_bytes
    from named
    group by all
),

totals as (
    select
        *,
        sum(packets) over (partition by capture_id) as capture_packets,
        sum(wire_bytes) over (partition by capture_id) as capture_bytes
    from counted
),

final as (
    select
        capture_id::string as capture_id,
        protocol::string as protocol,
        ip_proto::integer as ip_proto,
        packets::bigint as packets,
        wire_bytes::bigint as wire_bytes,
        (packets / capture_packets)::double as share_of_packets,
        (wire_bytes / nullif(capture_bytes, 0))::double as share_of_bytes
    from totals
)

select * from final

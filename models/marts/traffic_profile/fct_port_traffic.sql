-- The service side of a TCP/UDP packet is taken to be its lower port (the
-- well-known or registered one, e.g. 443 rather than an ephemeral 52114).
with

packets as (
    select * from {{ ref('int_packets_unioned') }}
    where
        ip_proto in (6, 17)
        and src_port is not null
        and dst_port is not null
),

counted as (
    select
        capture_id,
        {{ ip_protocol_name('ip_version', 'ip_proto') }} as protocol,
        least(src_port, dst_port) as service_port,
        count(*) as packets,
        coalesce(sum(wire_bytes), 0) as wire_bytes
    from packets
    group by all
),

totals as (
    select
        *,
        sum(packets) over (partition by capture_id, protocol)
            as protocol_packets,
        sum(wire_bytes) over (partition by capture_id, protocol)
            as protocol_bytes
    from counted
),

final as (
    select
        capture_id::string as capture_id,
        protocol::string as protocol,
        service_port::integer as service_port,
        packets::bigint as packets,
        wire_bytes::bigint as wire_bytes,
        (packets / protocol_packets)::double as share_of_protocol_packets,
        (wire_bytes / nullif(protocol_bytes, 0))::double
            as share_of_protocol_bytes
    from totals
)

select * from final

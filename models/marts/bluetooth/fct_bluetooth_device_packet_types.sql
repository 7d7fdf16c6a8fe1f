with

packets as (
    select * from {{ ref('int_bluetooth_packets_unioned') }}
    where device_id is not null
),

counted as (
    select
        technology,
        device_id,
        packet_type,
        bool_and(is_id_packet) as is_id_packet_type,
        count(*) as packets,
        min(captured_at) as first_seen_at,
        max(captured_at) as last_seen_at
    from packets
    group by all
),

final as (
    select
        technology::varchar as technology,
        device_id::varchar as device_id,
        packet_type::varchar as packet_type,
        is_id_packet_type::boolean as is_id_packet_type,
        packets::bigint as packets,
        first_seen_at::timestamp_ns as first_seen_at,
        last_seen_at::timestamp_ns as last_seen_at
    from counted
)

select * from final

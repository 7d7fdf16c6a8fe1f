with

packets as (
    select * from {{ ref('int_bluetooth_packets_unioned') }}
    where device_id is not null
),

confirmed as (
    select * from {{ ref('int_bluetooth_devices_confirmed') }}
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
        counted.technology::string as technology,
        counted.device_id::string as device_id,
        counted.packet_type::string as packet_type,
        counted.is_id_packet_type::boolean as is_id_packet_type,
        confirmed.is_device::boolean as is_device,
        counted.packets::bigint as packets,
        counted.first_seen_at::{{ type_timestamp_ns() }} as first_seen_at,
        counted.last_seen_at::{{ type_timestamp_ns() }} as last_seen_at
    from counted
    inner join confirmed
        on
            counted.technology = confirmed.technology
            and counted.device_id = confirmed.device_id
)

select * from final

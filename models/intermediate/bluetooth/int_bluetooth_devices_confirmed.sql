with

packets as (
    select * from {{ ref('int_bluetooth_packets_unioned') }}
    where device_id is not null
),

counted as (
    select
        technology,
        device_id,
        count(*) as packets,
        count(*) filter (where is_crc_checked) as crc_checked_packets,
        count(*) filter (where is_crc_valid) as crc_valid_packets
    from packets
    group by all
),

final as (
    select
        *,
        -- a ghost only when every packet was checked and none matched: a
        -- packet nobody checked (no CRC in the capture) is benefit of doubt
        (
            crc_valid_packets > 0 or crc_checked_packets < packets
        ) as is_device
    from counted
)

select * from final

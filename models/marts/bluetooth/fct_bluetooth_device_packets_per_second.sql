with

packets as (
    select * from {{ ref('int_bluetooth_packets_unioned') }}
    where device_id is not null
),

confirmed as (
    select * from {{ ref('int_bluetooth_devices_confirmed') }}
),

{{ per_second_series(
    'packets',
    ['capture_id', 'source_file', 'technology', 'device_id'],
    {'packets': 'true', 'non_id_packets': 'not is_id_packet'},
    ref('int_bluetooth_packets_unioned'),
) }},

final as (
    select
        series.capture_id::string as capture_id,
        series.source_file::string as source_file,
        series.technology::string as technology,
        series.device_id::string as device_id,
        series.second_at::timestamp as second_at,
        series.seconds_since_capture_start::bigint
            as seconds_since_capture_start,
        confirmed.is_device::boolean as is_device,
        series.packets::bigint as packets,
        series.cumulative_packets::bigint as cumulative_packets,
        series.non_id_packets::bigint as non_id_packets,
        series.cumulative_non_id_packets::bigint as cumulative_non_id_packets
    from series
    inner join confirmed
        on
            series.technology = confirmed.technology
            and series.device_id = confirmed.device_id
)

select * from final

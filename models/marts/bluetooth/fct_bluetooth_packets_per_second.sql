with

packets as (
    select * from {{ ref('int_bluetooth_packets_unioned') }}
),

{{ per_second_series(
    'packets',
    ['capture_id', 'source_file'],
    {'packets': 'true', 'non_id_packets': 'not is_id_packet'},
    ref('int_bluetooth_packets_unioned'),
) }},

final as (
    select
        capture_id::string as capture_id,
        source_file::string as source_file,
        second_at::timestamp as second_at,
        seconds_since_capture_start::bigint
            as seconds_since_capture_start,
        packets::bigint as packets,
        cumulative_packets::bigint as cumulative_packets,
        non_id_packets::bigint as non_id_packets,
        cumulative_non_id_packets::bigint as cumulative_non_id_packets
    from series
)

select * from final

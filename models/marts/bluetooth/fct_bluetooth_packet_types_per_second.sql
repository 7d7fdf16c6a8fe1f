with

packets as (
    select * from {{ ref('int_bluetooth_packets_unioned') }}
),

{{ per_second_series(
    'packets',
    ['capture_id', 'source_file', 'technology', 'packet_type'],
    {'packets': 'true'},
    ref('int_bluetooth_packets_unioned'),
) }},

final as (
    select
        capture_id::string as capture_id,
        source_file::string as source_file,
        technology::string as technology,
        packet_type::string as packet_type,
        second_at::timestamp as second_at,
        seconds_since_capture_start::bigint
            as seconds_since_capture_start,
        packets::bigint as packets,
        cumulative_packets::bigint as cumulative_packets
    from series
)

select * from final

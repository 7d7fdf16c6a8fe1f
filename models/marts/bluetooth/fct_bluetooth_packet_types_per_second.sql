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
        capture_id::varchar as capture_id,
        source_file::varchar as source_file,
        technology::varchar as technology,
        packet_type::varchar as packet_type,
        second_at::timestamp as second_at,
        seconds_since_capture_start::bigint
            as seconds_since_capture_start,
        packets::bigint as packets,
        cumulative_packets::bigint as cumulative_packets
    from series
)

select * from final

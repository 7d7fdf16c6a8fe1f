with

packets as (
    select * from {{ ref('int_packets_unioned') }}
),

traffic as (
    {{ packet_traffic_gapless('packets', 'minute') }}
),

final as (
    select
        capture_id::string as capture_id,
        bucket_at::timestamp as minute_at,
        source_kind::string as source_kind,
        bucket_index::bigint as minutes_since_start,
        packets::bigint as packets,
        wire_bytes::bigint as wire_bytes,
        captured_bytes::bigint as captured_bytes
    from traffic
)

select * from final

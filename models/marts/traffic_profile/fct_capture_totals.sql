with

packets as (
    select * from {{ ref('int_packets_unioned') }}
),

totals as (
    select
        capture_id,
        any_value(source_kind) as source_kind,
        count(distinct source_file) as files,
        count(*) as packets,
        count(ip_version) as ip_packets,
        count(*) - count(ts_ns) as untimed_packets,
        coalesce(sum(wire_bytes), 0) as wire_bytes,
        coalesce(sum(captured_bytes), 0) as captured_bytes,
        min(ts_ns) as first_ts_ns,
        max(ts_ns) as last_ts_ns
    from packets
    group by all
),

final as (
    select
        capture_id::varchar as capture_id,
        source_kind::varchar as source_kind,
        files::bigint as files,
        packets::bigint as packets,
        ip_packets::bigint as ip_packets,
        untimed_packets::bigint as untimed_packets,
        wire_bytes::bigint as wire_bytes,
        captured_bytes::bigint as captured_bytes,
        make_timestamp_ns(first_ts_ns)::timestamp as first_packet_at,
        make_timestamp_ns(last_ts_ns)::timestamp as last_packet_at,
        ((last_ts_ns - first_ts_ns) / 1e9)::double as duration_seconds,
        case
            when last_ts_ns > first_ts_ns
                then wire_bytes * 8 / ((last_ts_ns - first_ts_ns) / 1e9)
        end::double as mean_bits_per_second
    from totals
)

select * from final

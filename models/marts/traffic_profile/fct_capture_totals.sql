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

-- a tshark export named like its capture (x.pcap.csv, x.pcap.csv.gz) next to
-- that capture (x.pcap) loaded for the same node
exports as (
    select
        exported.capture_id,
        captured.capture_id as exported_from_capture_id
    from totals as exported
    inner join totals as captured
        on
            regexp_replace(exported.capture_id, '\.csv(\.gz|\.bz2)?$', '')
            = captured.capture_id
    where exported.source_kind = 'tshark' and captured.source_kind = 'pcap'
),

final as (
    select
        totals.capture_id::string as capture_id,
        totals.source_kind::string as source_kind,
        exports.exported_from_capture_id::string as exported_from_capture_id,
        totals.files::bigint as files,
        totals.packets::bigint as packets,
        totals.ip_packets::bigint as ip_packets,
        totals.untimed_packets::bigint as untimed_packets,
        totals.wire_bytes::bigint as wire_bytes,
        totals.captured_bytes::bigint as captured_bytes,
        {{ timestamp_from_ns('totals.first_ts_ns') }}::timestamp
            as first_packet_at,
        {{ timestamp_from_ns('totals.last_ts_ns') }}::timestamp
            as last_packet_at,
        ((totals.last_ts_ns - totals.first_ts_ns) / 1e9)::double
            as duration_seconds,
        case
            when totals.last_ts_ns > totals.first_ts_ns
                then
                    totals.wire_bytes * 8
                    / ((totals.last_ts_ns - totals.first_ts_ns) / 1e9)
        end::double as mean_bits_per_second
    from totals
    left join exports on totals.capture_id = exports.capture_id
)

select * from final

-- Every packet source in one shape, so the traffic marts work on any of them.
with

pcap_packets as (
    select * from {{ ref('stg_pcap__packets') }}
),

tshark_packets as (
    select * from {{ ref('stg_tshark__packets') }}
),

unioned as (
    select
        'pcap' as source_kind,
        capture_id,
        source_file,
        frame_number,
        captured_at,
        ts_ns,
        captured_bytes,
        wire_bytes,
        ip_version,
        src_addr,
        dst_addr,
        ip_proto,
        src_port,
        dst_port,
        tcp_flags
    from pcap_packets

    union all

    select
        'tshark' as source_kind,
        capture_id,
        source_file,
        frame_number,
        captured_at,
        ts_ns,
        captured_bytes,
        wire_bytes,
        ip_version,
        src_addr,
        dst_addr,
        ip_proto,
        src_port,
        dst_port,
        tcp_flags
    from tshark_packets
),

final as (
    select
        source_kind,
        capture_id,
        source_file,
        frame_number::bigint as frame_number,
        captured_at::timestamp_ns as captured_at,
        ts_ns::bigint as ts_ns,
        captured_bytes::bigint as captured_bytes,
        wire_bytes::bigint as wire_bytes,
        ip_version::integer as ip_version,
        src_addr,
        dst_addr,
        ip_proto::integer as ip_proto,
        src_port::integer as src_port,
        dst_port::integer as dst_port,
        tcp_flags::integer as tcp_flags
    from unioned
)

select * from final

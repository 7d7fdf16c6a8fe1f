-- Every packet source in one shape, so the traffic marts work on any of them
-- (Bluetooth frames left out: the Bluetooth marts count those).
with

-- frames decoded as Bluetooth belong to the Bluetooth marts, not the IP
-- traffic ones
bluetooth_frames as (
    select
        capture_id,
        frame_number
    from {{ ref('stg_bluetooth__le_packets') }}
    union all
    select
        capture_id,
        frame_number
    from {{ ref('stg_bluetooth__bredr_packets') }}
),

pcap_packets as (
    select pcap.*
    from {{ ref('stg_pcap__packets') }} as pcap
    left join bluetooth_frames
        on
            pcap.capture_id = bluetooth_frames.capture_id
            and pcap.frame_number = bluetooth_frames.frame_number
    where bluetooth_frames.frame_number is null
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
        captured_at::{{ type_timestamp_ns() }} as captured_at,
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

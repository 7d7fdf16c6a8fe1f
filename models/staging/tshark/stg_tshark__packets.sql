with

source as (
    {{ raw_rows('tshark', 'tshark_packets') }}
),

timed as (
    select
        *,
        coalesce(
            (frame_time_epoch * 1000000000)::bigint,
            capture_start_ns + (frame_time_relative * 1000000000)::bigint
        ) as ts_ns,
        case
            when ip_src is not null or ip_dst is not null then 4
            when ipv6_src is not null or ipv6_dst is not null then 6
        end as ip_version,
        -- lengths no capture can have: kept out of every sum (both NULL),
        -- listed in fct_implausible_values
        case
            when frame_len < 0 or frame_cap_len < 0 then 'negative length'
            when
                frame_len > {{ var('max_packet_bytes') }}
                or frame_cap_len > {{ var('max_packet_bytes') }}
                then 'length above max_packet_bytes'
            when frame_cap_len > frame_len then 'captured more than the wire'
        end as length_implausible_reason
    from source
),

final as (
    select
        _source_file as source_file,
        coalesce(_node, 'default') as node_id,
        -- the hourly layout: a folder of files named by Unix time is one
        -- capture, named like a file (by the folder given, or below it)
        case
            when
                {{ regex_contains('_file_name', '/\d{10}\.csv(\.gz|\.bz2)?$') }}
                then regexp_replace({{ capture_id() }}, '/[^/]*$', '')
            when
                {{ regex_contains('_file_name', '^\d{10}\.csv(\.gz|\.bz2)?$') }}
                then
                    coalesce(_node, 'default') || '/'
                    || regexp_extract(_source_file, '([^/]*)/[^/]*$', 1)
            else {{ capture_id() }}
        end as capture_id,
        frame_number,
        {{ timestamp_from_ns('ts_ns') }} as captured_at,
        ts_ns,
        case
            when length_implausible_reason is null then frame_cap_len
        end as captured_bytes,
        case
            when length_implausible_reason is null then frame_len
        end as wire_bytes,
        frame_cap_len as captured_bytes_as_logged,
        frame_len as wire_bytes_as_logged,
        length_implausible_reason is null as is_plausible_length,
        length_implausible_reason,
        ip_version,
        case ip_version when 4 then ip_src else ipv6_src end as src_addr,
        case ip_version when 4 then ip_dst else ipv6_dst end as dst_addr,
        -- without ip.proto in the export, the port fields tell TCP from UDP
        coalesce(
            case ip_version when 4 then ip_proto when 6 then ipv6_nxt end,
            case
                when tcp_srcport is not null or tcp_dstport is not null then 6
                when udp_srcport is not null or udp_dstport is not null then 17
            end
        ) as ip_proto,
        ip_len::bigint as ip_bytes,
        ip_ttl as ttl,
        coalesce(tcp_srcport, udp_srcport) as src_port,
        coalesce(tcp_dstport, udp_dstport) as dst_port,
        tcp_flags,
        (tcp_flags & 1) != 0 as is_fin,
        (tcp_flags & 2) != 0 as is_syn,
        (tcp_flags & 4) != 0 as is_rst,
        (tcp_flags & 8) != 0 as is_psh,
        (tcp_flags & 16) != 0 as is_ack,
        tcp_seq,
        tcp_ack,
        tcp_window_size_value as tcp_window,
        tcp_len as tcp_payload_bytes,
        eth_src as eth_src_addr,
        eth_dst as eth_dst_addr,
        frame_time_relative::double as time_relative_seconds,
        other_fields,
        _loaded_at as loaded_at
    from timed
)

select * from final

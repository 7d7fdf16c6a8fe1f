with

source as (
    {{ raw_rows('pcap', 'pcap_packets') }}
),

final as (
    select
        {{ capture_id() }} as capture_id,
        coalesce(_node, 'default') as node_id,
        _source_file as source_file,
        frame_number,
        captured_at,
        ts_ns,
        interface_id,
        caplen as captured_bytes,
        origlen as wire_bytes,
        link_type,
        vlan_ids,
        ip_version,
        src_addr,
        dst_addr,
        ip_proto::integer as ip_proto,
        ttl,
        ip_total_len::bigint as ip_bytes,
        ip_id,
        frag_offset,
        more_fragments as is_more_fragments,
        dont_fragment as is_dont_fragment,
        src_port::integer as src_port,
        dst_port::integer as dst_port,
        tcp_flags,
        (tcp_flags & 1) != 0 as is_fin,
        (tcp_flags & 2) != 0 as is_syn,
        (tcp_flags & 4) != 0 as is_rst,
        (tcp_flags & 8) != 0 as is_psh,
        (tcp_flags & 16) != 0 as is_ack,
        tcp_seq::bigint as tcp_seq,
        tcp_ack::bigint as tcp_ack,
        tcp_window::integer as tcp_window,
        tcp_wscale,
        tcp_mss,
        tcp_sack_permitted as has_tcp_sack_permitted,
        tcp_tsval,
        tcp_tsecr,
        tcp_header_len as tcp_header_bytes,
        payload_len::bigint as payload_bytes,
        icmp_type,
        icmp_code,
        malformed as malformed_reason,
        _loaded_at as loaded_at
    from source
)

select * from final

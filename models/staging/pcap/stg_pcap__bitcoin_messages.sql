with

source as (
    {{ raw_rows('pcap', 'pcap_bitcoin_messages') }}
),

final as (
    select
        {{ capture_id() }} as capture_id,
        coalesce(_node, 'default') as node_id,
        _source_file as source_file,
        stream_id,
        connection_seq,
        orig_addr,
        orig_port,
        resp_addr,
        resp_port,
        is_from_orig,
        message_index,
        network,
        command as msg_type,
        payload_bytes,
        message_bytes,
        ip_bytes,
        frame_bytes,
        first_frame_number,
        last_frame_number,
        first_ts_ns,
        last_ts_ns,
        first_seen_at,
        last_seen_at,
        message_packets,
        is_complete,
        has_gap_before,
        detected_by,
        _loaded_at as loaded_at
    from source
)

select * from final

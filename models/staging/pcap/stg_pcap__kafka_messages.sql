with

source as (
    {{ raw_rows('pcap', 'pcap_kafka_messages') }}
),

final as (
    select
        {{ capture_id() }} as capture_id,
        coalesce(_node, 'default') as node_id,
        _source_file as source_file,
        stream_id,
        connection_seq,
        client_addr,
        client_port,
        broker_addr,
        broker_port,
        is_request,
        message_index,
        message_size_bytes,
        api_key,
        api_version,
        header_version,
        correlation_id,
        client_id,
        fetch_max_wait_ms,
        produce_acks,
        error_code,
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

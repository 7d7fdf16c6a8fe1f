with

requests as (
    select * from {{ ref('int_kafka_requests_paired') }}
),

final as (
    select
        md5(concat_ws('|', capture_id, stream_id, message_index))::string
            as kafka_request_id,
        capture_id::string as capture_id,
        source_file::string as source_file,
        stream_id::string as stream_id,
        client_addr::string as client_addr,
        client_port::integer as client_port,
        broker_addr::string as broker_addr,
        broker_port::integer as broker_port,
        message_index::bigint as request_message_index,
        correlation_id::integer as correlation_id,
        api_key::smallint as api_key,
        coalesce(api_name, 'unknown')::string as api_name,
        api_version::smallint as api_version,
        coalesce(is_known_version, false)::boolean as is_known_version,
        client_id::string as client_id,
        message_size_bytes::bigint as request_size_bytes,
        response_size_bytes::bigint as response_size_bytes,
        fetch_max_wait_ms::integer as fetch_max_wait_ms,
        produce_acks::smallint as produce_acks,
        {{ timestamp_from_us(int_div('first_ts_ns', 1000)) }}::timestamp
            as request_started_at,
        {{ timestamp_from_us(int_div('last_ts_ns', 1000)) }}::timestamp
            as requested_at,
        {{ timestamp_from_us(
            int_div('response_first_ts_ns', 1000)
        ) }}::timestamp as response_started_at,
        {{ timestamp_from_us(
            int_div('response_last_ts_ns', 1000)
        ) }}::timestamp as responded_at,
        ((response_first_ts_ns - last_ts_ns) / 1e6)::double
            as latency_to_first_byte_ms,
        ((response_last_ts_ns - last_ts_ns) / 1e6)::double
            as latency_to_last_byte_ms,
        response_error_code::smallint as response_error_code,
        response_status::string as response_status,
        (response_status = 'answered')::boolean as is_answered,
        (response_first_ts_ns is not null)::boolean as has_response,
        coalesce(api_key = 1 and fetch_max_wait_ms > 0, false)::boolean
            as is_long_poll,
        (is_complete and coalesce(is_response_complete, true))::boolean
            as is_complete
    from requests
)

select * from final

-- Each Kafka request with its response: same capture file, same TCP
-- connection (stream_id), same correlation id; the n-th request with an id
-- pairs with the n-th response with that id on that connection. The analysis
-- window and server filter apply to the request (its last byte), so a
-- request near the window end keeps the response that came after it.
with

messages as (
    select * from {{ ref('stg_pcap__kafka_messages') }}
),

api_keys as (
    select * from {{ ref('kafka_api_keys') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by capture_id, stream_id, is_request, correlation_id
            order by message_index
        ) as correlation_rank,
        max(message_index) filter (where not is_request) over (
            partition by capture_id, stream_id
        ) as last_response_index
    from messages
),

requests as (
    select * from ranked
    where is_request
),

responses as (
    select * from ranked
    where not is_request
),

paired as (
    select
        requests.*,
        responses.message_index as response_message_index,
        responses.message_size_bytes as response_size_bytes,
        responses.first_ts_ns as response_first_ts_ns,
        responses.last_ts_ns as response_last_ts_ns,
        responses.first_seen_at as response_first_seen_at,
        responses.last_seen_at as response_last_seen_at,
        responses.is_complete as is_response_complete,
        responses.error_code as response_error_code,
        -- responses come back in request order: a later response answered
        -- a later request, so this one's response was lost in a gap
        requests.last_response_index is not null
        and requests.last_response_index > requests.message_index
            as has_later_response
    from requests
    left join responses
        on
            requests.capture_id = responses.capture_id
            and requests.stream_id = responses.stream_id
            and requests.correlation_id = responses.correlation_id
            and requests.correlation_rank = responses.correlation_rank
),

named as (
    select
        paired.*,
        api_keys.api_name,
        paired.api_version between api_keys.min_version
        and api_keys.max_version as is_known_version,
        case
            when paired.response_error_code != 0 then 'error'
            when paired.response_first_ts_ns is not null then 'answered'
            when paired.api_key = 0 and paired.produce_acks = 0
                then 'no_response_expected'
            when paired.has_later_response then 'response_not_captured'
            else 'unanswered_at_capture_end'
        end as response_status
    from paired
    left join api_keys
        on paired.api_key = api_keys.api_key
),

windowed as (
    select * from named
    where {{ network_window_filter(
        'last_seen_at', 'broker_addr', 'broker_port',
        'broker_addr', 'broker_port'
    ) }}
)

select * from windowed

with

requests as (
    select * from {{ ref('fct_kafka_requests') }}
),

-- latencies of answered requests only: an error response's wait (a
-- JoinGroup held for a rebalance that then fails) is not service time
measured as (
    select
        *,
        case
            when response_status = 'answered' then latency_to_first_byte_ms
        end as answered_latency_ms,
        case
            when response_status = 'answered' then latency_to_last_byte_ms
        end as answered_latency_to_last_byte_ms,
        case
            when response_status = 'answered' and not is_long_poll
                then latency_to_first_byte_ms
        end as served_latency_ms
    from requests
),

hourly as (
    select
        date_trunc('hour', requested_at) as hour_at,
        api_key,
        api_name,
        count(*) as requests,
        count(*) filter (where is_answered) as answered_requests,
        count(*) filter (where response_status = 'error') as error_requests,
        count(*) filter (
            where response_status = 'no_response_expected'
        ) as no_response_expected_requests,
        count(*) filter (
            where response_status in (
                'response_not_captured', 'unanswered_at_capture_end'
            )
        ) as unanswered_requests,
        count(*) filter (where is_long_poll) as long_poll_requests,
        {{ exact_avg('answered_latency_ms') }} as latency_avg_ms,
        {{ quantile_cont('answered_latency_ms', 0.5) }} as latency_p50_ms,
        {{ quantile_cont('answered_latency_ms', 0.95) }} as latency_p95_ms,
        {{ quantile_cont('answered_latency_ms', 0.99) }} as latency_p99_ms,
        max(answered_latency_ms) as latency_max_ms,
        {{ quantile_cont('answered_latency_to_last_byte_ms', 0.95) }}
            as latency_to_last_byte_p95_ms,
        max(answered_latency_to_last_byte_ms) as latency_to_last_byte_max_ms,
        {{ quantile_cont('served_latency_ms', 0.95) }}
            as latency_p95_excl_long_poll_ms,
        max(fetch_max_wait_ms) as fetch_max_wait_ms
    from measured
    group by all
),

final as (
    select
        hour_at::timestamp as hour_at,
        api_key::smallint as api_key,
        api_name::string as api_name,
        requests::bigint as requests,
        answered_requests::bigint as answered_requests,
        error_requests::bigint as error_requests,
        no_response_expected_requests::bigint
            as no_response_expected_requests,
        unanswered_requests::bigint as unanswered_requests,
        long_poll_requests::bigint as long_poll_requests,
        latency_avg_ms::double as latency_avg_ms,
        latency_p50_ms::double as latency_p50_ms,
        latency_p95_ms::double as latency_p95_ms,
        latency_p99_ms::double as latency_p99_ms,
        latency_max_ms::double as latency_max_ms,
        latency_to_last_byte_p95_ms::double as latency_to_last_byte_p95_ms,
        latency_to_last_byte_max_ms::double as latency_to_last_byte_max_ms,
        latency_p95_excl_long_poll_ms::double as latency_p95_excl_long_poll_ms,
        fetch_max_wait_ms::integer as fetch_max_wait_ms
    from hourly
)

select * from final

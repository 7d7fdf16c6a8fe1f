{#- Bucket widths to choose from, in seconds: the smallest that gives at most
    max_buckets buckets over the captured requests is used. -#}
{%- set widths = [1, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400] -%}
{%- set max_buckets = 120 -%}

with

requests as (
    select * from {{ ref('fct_kafka_requests') }}
    where
        latency_to_first_byte_ms is not null
        and response_status is distinct from 'error'
),

span as (
    select
        {{ epoch_seconds('max(requested_at)') }}
        - {{ epoch_seconds('min(requested_at)') }} as span_seconds
    from requests
),

widths as (
    select {{ unnest_list(widths) }} as bucket_seconds
),

width as (
    select
        coalesce(
            min(widths.bucket_seconds) filter (
                where span.span_seconds / widths.bucket_seconds
                < {{ max_buckets }}
            ),
            {{ widths[-1] }}
        ) as bucket_seconds
    from span
    cross join widths
),

bucketed as (
    select
        width.bucket_seconds,
        requests.api_key,
        requests.api_name,
        requests.latency_to_first_byte_ms,
        {{ time_bucket_seconds(
            'width.bucket_seconds', 'requests.requested_at'
        ) }} as bucket_at
    from requests
    cross join width
),

aggregated as (
    select
        bucket_at,
        bucket_seconds,
        api_key,
        api_name,
        count(*) as answered_requests,
        {{ quantile_cont('latency_to_first_byte_ms', 0.5) }} as latency_p50_ms,
        {{ quantile_cont('latency_to_first_byte_ms', 0.95) }} as latency_p95_ms,
        {{ quantile_cont('latency_to_first_byte_ms', 0.99) }} as latency_p99_ms,
        max(latency_to_first_byte_ms) as latency_max_ms
    from bucketed
    group by all
),

final as (
    select
        bucket_at::timestamp as bucket_at,
        bucket_seconds::integer as bucket_seconds,
        api_key::smallint as api_key,
        api_name::string as api_name,
        answered_requests::bigint as answered_requests,
        latency_p50_ms::double as latency_p50_ms,
        latency_p95_ms::double as latency_p95_ms,
        latency_p99_ms::double as latency_p99_ms,
        latency_max_ms::double as latency_max_ms
    from aggregated
)

select * from final

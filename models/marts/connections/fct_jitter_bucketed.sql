{%- set bucket_minutes = var('network_bucket_minutes') -%}

with

gaps as (
    select * from {{ ref('int_packet_gaps_measured') }}
),

connections as (
    select * from {{ ref('fct_connections') }}
),

bucketed as (
    select
        *,
        {{ time_bucket_seconds(
            bucket_minutes * 60, timestamp_from_us(int_div('ts_ns', 1000))
        ) }} as bucket_at
    from gaps
),

-- an IAT belongs to the bucket of the packet that ends it; the RFC 3550
-- recursion restarts from 0 in every bucket
directions as (
    {{ jitter_per_group(
        'bucketed', ['bucket_at', 'connection_id', 'is_orig']
    ) }}
),

final as (
    select
        directions.bucket_at::timestamp as bucket_at,
        directions.connection_id::string as connection_id,
        (case when directions.is_orig then 'orig' else 'resp' end)::string
            as direction,
        connections.resp_addr::string as resp_addr,
        connections.resp_port::integer as resp_port,
        {{ jitter_columns('directions') }}
    from directions
    inner join connections
        on directions.connection_id = connections.connection_id
)

select * from final

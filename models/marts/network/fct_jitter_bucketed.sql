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
        time_bucket(
            interval {{ bucket_minutes }} minute,
            make_timestamp(ts_ns // 1000)
        ) as bucket_at
    from gaps
),

-- an IAT belongs to the bucket of the packet that ends it; the RFC 3550
-- recursion restarts from 0 in every bucket (closed form: see
-- fct_connection_jitter)
ranked as (
    select
        *,
        count(iat_change_ns) over (
            partition by bucket_at, connection_id, is_orig
        ) as iat_changes_in_group,
        case
            when iat_change_ns is not null
                then row_number() over (
                    partition by
                        bucket_at, connection_id, is_orig, iat_change_ns is null
                    order by frame_number
                )
        end as change_rank
    from bucketed
),

directions as (
    select
        bucket_at,
        connection_id,
        is_orig,
        count(*) as iats,
        count(*) filter (where is_idle_gap) as idle_gaps,
        avg(iat_ns) filter (where not is_idle_gap) as mean_iat_ns,
        count(iat_change_ns) as iat_changes,
        avg(iat_change_ns) as jitter_ns,
        sum(
            iat_change_ns * power(15 / 16, iat_changes_in_group - change_rank)
        ) / 16 as rfc3550_jitter_ns
    from ranked
    group by all
),

final as (
    select
        directions.bucket_at::timestamp as bucket_at,
        directions.connection_id::varchar as connection_id,
        (case when directions.is_orig then 'orig' else 'resp' end)::varchar
            as direction,
        connections.resp_addr::varchar as resp_addr,
        connections.resp_port::integer as resp_port,
        directions.iats::bigint as iats,
        directions.idle_gaps::bigint as idle_gaps,
        directions.iat_changes::bigint as iat_changes,
        (directions.mean_iat_ns / 1e6)::double as mean_iat_ms,
        (directions.jitter_ns / 1e6)::double as jitter_ms,
        (
            case
                when directions.iat_changes > 0
                    then directions.rfc3550_jitter_ns / 1e6
            end
        )::double as rfc3550_jitter_ms
    from directions
    inner join connections
        on directions.connection_id = connections.connection_id
)

select * from final

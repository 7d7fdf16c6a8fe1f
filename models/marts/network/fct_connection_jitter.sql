with

gaps as (
    select * from {{ ref('int_packet_gaps_measured') }}
),

connections as (
    select * from {{ ref('fct_connections') }}
),

-- RFC 3550 6.4.1: J(k) = J(k-1) + (|D(k)| - J(k-1)) / 16 from J(0) = 0
-- unrolls exactly to J(n) = sum over k of |D(k)| * (15/16)^(n-k) / 16,
-- so each change needs only its rank k and the count n (window functions)
ranked as (
    select
        *,
        count(iat_change_ns) over (partition by connection_id, is_orig)
            as iat_changes_in_group,
        case
            when iat_change_ns is not null
                then row_number() over (
                    partition by connection_id, is_orig, iat_change_ns is null
                    order by frame_number
                )
        end as change_rank
    from gaps
),

directions as (
    select
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
        directions.connection_id::varchar as connection_id,
        (case when directions.is_orig then 'orig' else 'resp' end)::varchar
            as direction,
        connections.source_file::varchar as source_file,
        (
            case
                when directions.is_orig then connections.orig_addr
                else connections.resp_addr
            end
        )::varchar as sender_addr,
        (
            case
                when directions.is_orig then connections.orig_port
                else connections.resp_port
            end
        )::integer as sender_port,
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

with

gaps as (
    select * from {{ ref('int_packet_gaps_measured') }}
),

connections as (
    select * from {{ ref('fct_connections') }}
),

-- RFC 3550 6.4.1: J += (|D| - J) / 16, folded in packet order with
-- list_reduce from J = 0 (exact recursion, no approximation)
directions as (
    select
        connection_id,
        is_orig,
        count(*) as iats,
        count(*) filter (where is_idle_gap) as idle_gaps,
        avg(iat_ns) filter (where not is_idle_gap) as mean_iat_ns,
        count(iat_change_ns) as iat_changes,
        avg(iat_change_ns) as jitter_ns,
        list_reduce(
            list_prepend(
                0::double,
                list(iat_change_ns::double order by frame_number)
                filter (where iat_change_ns is not null)
            ),
            lambda j, d: j + (d - j) / 16
        ) as rfc3550_jitter_ns
    from gaps
    group by connection_id, is_orig
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

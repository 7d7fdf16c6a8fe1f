{{ config(materialized='table') }}

with

messages as (
    select * from {{ ref('stg_bitcoin_p2p__messages') }}
    where is_plausible  -- the others are listed in fct_implausible_values
),

data_starts as (
    -- a node's first run starts with its first message
    select
        node_id,
        min(logged_at) as started_at
    from messages
    group by all
),

handshakes as (
    -- connections whose start we saw: every connection opens with version
    select
        node_id,
        peer_id,
        peer_addr,
        min(logged_at) as handshake_at
    from messages
    where msg_type = 'version' and peer_id is not null
    group by all
),

ordered as (
    select
        *,
        lag(peer_id) over (
            partition by node_id order by handshake_at, peer_id
        ) as previous_peer_id
    from handshakes
),

restarts as (
    -- bitcoind numbers connections 0, 1, 2, ... from its start: a new
    -- connection whose id is well below the previous new connection's id
    -- means bitcoind restarted
    select
        node_id,
        handshake_at as started_at,
        peer_id as first_peer_id
    from ordered
    where peer_id + {{ var('node_run_peer_id_drop') }} < previous_peer_id
),

starts as (
    select
        node_id,
        started_at,
        null::bigint as first_peer_id
    from data_starts
    union all
    select
        node_id,
        started_at,
        first_peer_id
    from restarts
),

final as (
    select
        node_id,
        row_number() over (
            partition by node_id order by started_at
        )::integer as node_run_id,
        started_at,
        lead(started_at) over (
            partition by node_id order by started_at
        ) as ended_before,
        first_peer_id
    from starts
)

select * from final

{#- a message type below this share for every peer of a set is left out -#}
{%- set min_max_share = 0.001 -%}

with

shares as (
    select * from {{ ref('fct_peer_message_shares') }}
),

peers as (
    select * from {{ ref('dim_peers') }}
),

members as (
    select distinct
        'all' as peer_set,
        connection_id
    from shares
    union all
    select distinct
        'zero_inv' as peer_set,
        shares.connection_id
    from shares
    inner join peers
        on shares.connection_id = peers.connection_id
    where peers.is_zero_inv_peer
),

member_shares as (
    select
        members.peer_set,
        shares.connection_id,
        shares.msg_type,
        shares.msgs,
        shares.msg_share
    from members
    inner join shares
        on members.connection_id = shares.connection_id
),

sort_keys as (
    -- all peers ascending by getdata then ping share; zero-inv peers (no
    -- getdata worth sorting by) by getheaders then pong share
    select
        peer_set,
        connection_id,
        coalesce(max(msg_share) filter (
            where msg_type = if(peer_set = 'all', 'getdata', 'getheaders')
        ), 0) as sort_key_1,
        coalesce(max(msg_share) filter (
            where msg_type = if(peer_set = 'all', 'ping', 'pong')
        ), 0) as sort_key_2
    from member_shares
    group by all
),

ranked as (
    -- each node's connections ranked on their own: one chart per node
    select
        sort_keys.peer_set,
        sort_keys.connection_id,
        peers.node_id,
        row_number() over (
            partition by sort_keys.peer_set, peers.node_id
            order by
                sort_keys.sort_key_1, sort_keys.sort_key_2,
                sort_keys.connection_id
        ) as peer_rank
    from sort_keys
    inner join peers
        on sort_keys.connection_id = peers.connection_id
),

kept_types as (
    -- types that never reach the threshold in a set would only be hairlines
    select
        peer_set,
        msg_type
    from member_shares
    group by all
    having max(msg_share) > {{ min_max_share }}
),

grid as (
    -- every kept type for every peer, so the stacked areas have no holes
    select
        ranked.peer_set,
        ranked.node_id,
        ranked.peer_rank,
        ranked.connection_id,
        kept_types.msg_type
    from ranked
    inner join kept_types
        on ranked.peer_set = kept_types.peer_set
),

final as (
    select
        grid.peer_set::string as peer_set,
        grid.node_id::string as node_id,
        grid.peer_rank::bigint as peer_rank,
        grid.connection_id::string as connection_id,
        peers.peer_addr::string as peer_addr,
        peers.peer_conn_type::string as peer_conn_type,
        grid.msg_type::string as msg_type,
        coalesce(member_shares.msgs, 0)::bigint as msgs,
        coalesce(member_shares.msg_share, 0)::double as msg_share
    from grid
    inner join peers
        on grid.connection_id = peers.connection_id
    left join member_shares
        on
            grid.peer_set = member_shares.peer_set
            and grid.connection_id = member_shares.connection_id
            and grid.msg_type = member_shares.msg_type
)

select * from final

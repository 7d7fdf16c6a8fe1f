{#- One column pair per type of the seed, read at compile time, plus other:
    the column set is fixed (and under contract), whatever the data holds. -#}
-- depends_on: {{ ref('bitcoin_message_types') }}
{%- set msg_types = bitcoin_message_types() %}
{#- incremental (partition_by node_id): as fct_peer_connections -#}
{%- set changes = nodes_changed('messages') %}

with

shares as (
    select * from {{ ref('fct_peer_message_shares') }}
    where {{ rebuilt_rows(changes) }}
),

typed as (
    select
        *,
        case
            when msg_type is null then 'other'
            {%- for msg_type in msg_types %}
                when msg_type = '{{ msg_type }}' then msg_type
            {%- endfor %}
            else 'other'
        end as share_type
    from shares
),

pivoted as (
    select
        connection_id,
        node_id,
        node_run_id,
        peer_id,
        peer_addr,
        peer_conn_type,
        {%- for msg_type in msg_types %}
            coalesce(
                sum(msgs) filter (where share_type = '{{ msg_type }}'), 0
            ) as {{ msg_type }}_count,
            coalesce(
                sum(msg_share) filter (where share_type = '{{ msg_type }}'), 0
            ) as {{ msg_type }}_share,
        {%- endfor %}
        coalesce(
            sum(msgs) filter (where share_type = 'other'), 0
        ) as other_count,
        coalesce(
            sum(msg_share) filter (where share_type = 'other'), 0
        ) as other_share,
        sum(msgs) as msgs,
        max(loaded_at) as loaded_at
    from typed
    group by all
),

final as (
    select
        connection_id::string as connection_id,
        node_id::string as node_id,
        node_run_id::integer as node_run_id,
        peer_id::bigint as peer_id,
        peer_addr::string as peer_addr,
        peer_conn_type::string as peer_conn_type,
        msgs::bigint as msgs,
        {%- for msg_type in msg_types %}
            {{ msg_type }}_count::bigint as {{ msg_type }}_count,
            {{ msg_type }}_share::double as {{ msg_type }}_share,
        {%- endfor %}
        other_count::bigint as other_count,
        other_share::double as other_share,
        loaded_at::timestamp as loaded_at
    from pivoted
)

select * from final

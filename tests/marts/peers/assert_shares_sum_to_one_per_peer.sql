-- Message-type shares of one peer add up to 1, in the long and wide tables.
-- depends_on: {{ ref('bitcoin_message_types') }}
{% set msg_types = bitcoin_message_types() %}
with

long_sums as (
    select
        connection_id,
        'long' as table_shape,
        sum(msg_share) as share_sum
    from {{ ref('fct_peer_message_shares') }}
    group by all
),

wide_sums as (
    select
        connection_id,
        'wide' as table_shape,
        {%- for msg_type in msg_types | list + ['other'] %}
            {{ msg_type }}_share{{ ' +' if not loop.last }}
        {%- endfor %} as share_sum
    from {{ ref('fct_peer_message_shares_wide') }}
)

select *
from long_sums
where abs(share_sum - 1) > 1e-9
union all
select *
from wide_sums
where abs(share_sum - 1) > 1e-9

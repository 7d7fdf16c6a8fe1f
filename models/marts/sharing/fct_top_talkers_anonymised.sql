with

talkers as (
    select * from {{ ref('fct_top_talkers') }}
),

final as (
    select
        capture_id::string as capture_id,
        talker_role::string as talker_role,
        talker_rank::bigint as talker_rank,
        {{ pseudonymise('src_addr') }}::string as src_addr,
        {{ pseudonymise('dst_addr') }}::string as dst_addr,
        packets::bigint as packets,
        wire_bytes::bigint as wire_bytes,
        share_of_bytes::double as share_of_bytes
    from talkers
)

select * from final

with

samples as (
    select * from {{ ref('int_counter_samples_differenced') }}
),

gaps as (
    select
        node_id,
        previous_sampled_at as gap_started_at,
        sampled_at as gap_ended_at,
        seconds_since_previous as gap_seconds,
        accounting_off_samples_before as accounting_off_samples,
        -- nix-bitcoin-monitor samples every 5 s
        greatest(
            round(seconds_since_previous / 5)
            - 1
            - accounting_off_samples_before,
            0
        ) as missing_samples,
        is_collection_gap,
        is_ingress_bytes_reset or is_egress_bytes_reset as has_reset,
        ingress_bytes_delta,
        egress_bytes_delta
    from samples
    where is_after_gap
),

final as (
    select
        node_id::string as node_id,
        gap_started_at::timestamp as gap_started_at,
        gap_ended_at::timestamp as gap_ended_at,
        gap_seconds::bigint as gap_seconds,
        accounting_off_samples::bigint as accounting_off_sample_count,
        missing_samples::bigint as missing_sample_count,
        is_collection_gap::boolean as is_collection_gap,
        has_reset::boolean as has_reset,
        ingress_bytes_delta::bigint as ingress_bytes_across,
        egress_bytes_delta::bigint as egress_bytes_across
    from gaps
)

select * from final

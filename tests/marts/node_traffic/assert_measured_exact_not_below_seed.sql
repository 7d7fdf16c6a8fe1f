-- Per day, exact mode never reports less than the seed rule would: the seed
-- rule only loses bytes (negative sums clamped to 0), it never invents any.
-- Computed from the deltas directly, so it holds whatever counter_mode is.
-- Collection gaps are left out: exact books nothing across them on purpose.
with

samples as (
    select * from {{ ref('int_counter_samples_differenced') }}
    where not is_collection_gap
),

daily as (
    select
        node_id,
        sampled_at::date as traffic_date,
        sum(ingress_bytes_delta) as exact_in,
        greatest(sum(ingress_bytes_raw_diff), 0) as seed_in,
        sum(egress_bytes_delta) as exact_out,
        greatest(sum(egress_bytes_raw_diff), 0) as seed_out
    from samples
    group by all
)

select *
from daily
where exact_in < seed_in or exact_out < seed_out

{#- Inter-arrival statistics per group of int_packet_gaps_measured rows: the
    body of a CTE (a select) over `relation`, grouped by `group_by` (a list
    of columns, e.g. connection_id and is_orig, plus bucket_at per bucket).

    RFC 3550 6.4.1: J(k) = J(k-1) + (|D(k)| - J(k-1)) / 16 from J(0) = 0
    unrolls exactly to J(n) = sum over k of |D(k)| * (15/16)^(n-k) / 16, so
    each change needs only its rank k and the count n (window functions);
    the recursion restarts from 0 in every group. -#}
{% macro jitter_per_group(relation, group_by) -%}
    {%- set keys = group_by | join(', ') -%}
    select
        {{ keys }},
        count(*) as iats,
        count(*) filter (where is_idle_gap) as idle_gaps,
        avg(iat_ns) filter (where not is_idle_gap) as mean_iat_ns,
        count(iat_change_ns) as iat_changes,
        avg(iat_change_ns) as jitter_ns,
        {{ exact_sum(
            'iat_change_ns * power(15 / 16, iat_changes_in_group - change_rank)'
        ) }} / 16 as rfc3550_jitter_ns
    from (
        select
            *,
            count(iat_change_ns) over (partition by {{ keys }})
                as iat_changes_in_group,
            case
                when iat_change_ns is not null
                    then row_number() over (
                        partition by {{ keys }}, iat_change_ns is null
                        order by frame_number
                    )
            end as change_rank
        from {{ relation }}
    ) as ranked
    group by {{ keys }}
{%- endmacro %}

{#- The typed jitter columns of a mart's final select, from the CTE (alias)
    that jitter_per_group built: counts, mean IAT and both jitters in ms. -#}
{% macro jitter_columns(alias) -%}
    {{ alias }}.iats::bigint as iats,
    {{ alias }}.idle_gaps::bigint as idle_gaps,
    {{ alias }}.iat_changes::bigint as iat_changes,
    ({{ alias }}.mean_iat_ns / 1e6)::double as mean_iat_ms,
    ({{ alias }}.jitter_ns / 1e6)::double as jitter_ms,
    (
        case
            when {{ alias }}.iat_changes > 0
                then {{ alias }}.rfc3550_jitter_ns / 1e6
        end
    )::double as rfc3550_jitter_ms
{%- endmacro %}

{#- Bytes and packets per capture and time bucket ('minute' or 'hour'), with a
    zero row for every empty bucket between two that saw packets, unless they
    are more than var traffic_fill_max_hours apart (a clock jump or a capture
    resumed days later would otherwise make millions of zero rows).
    `packets` is a relation with capture_id, source_kind, ts_ns and
    wire_bytes/captured_bytes; untimed packets are left out. -#}
{% macro packet_traffic_gapless(packets, bucket) %}
    {%- set bucket_ns = {'minute': 60000000000, 'hour': 3600000000000} -%}
    {%- if bucket not in bucket_ns -%}
        {{ exceptions.raise_compiler_error(
            "packet_traffic_gapless: bucket must be 'minute' or 'hour', got "
            ~ bucket
        ) }}
    {%- endif %}
    {%- set ns = bucket_ns[bucket] %}
    {%- set max_fill_ns = var('traffic_fill_max_hours') * 3600000000000 %}
    with

    bucketed as (
        select
            capture_id,
            source_kind,
            {{ int_div('ts_ns', ns) }} * {{ ns }} as bucket_ns,
            wire_bytes,
            captured_bytes
        from {{ packets }}
        where ts_ns is not null
    ),

    counted as (
        select
            capture_id,
            bucket_ns,
            count(*) as packets,
            coalesce(sum(wire_bytes), 0) as wire_bytes,
            coalesce(sum(captured_bytes), 0) as captured_bytes
        from bucketed
        group by all
    ),

    segmented as (
        select
            capture_id,
            bucket_ns,
            -- a new segment after a silence longer than the fill limit
            coalesce(
                bucket_ns - lag(bucket_ns) over (
                    partition by capture_id order by bucket_ns
                ) > {{ max_fill_ns }},
                false
            ) as is_segment_start
        from counted
    ),

    numbered as (
        select
            *,
            sum(is_segment_start::integer) over (
                partition by capture_id
                order by bucket_ns
                rows between unbounded preceding and current row
            ) as segment_number
        from segmented
    ),

    spans as (
        select
            capture_id,
            segment_number,
            min(bucket_ns) as first_bucket_ns,
            max(bucket_ns) as last_bucket_ns
        from numbered
        group by all
    ),

    captures as (
        select
            capture_id,
            any_value(source_kind) as source_kind,
            min(bucket_ns) as capture_first_bucket_ns
        from bucketed
        group by all
    ),

    buckets as (
        select
            spans.capture_id,
            captures.source_kind,
            captures.capture_first_bucket_ns as first_bucket_ns,
            {{ unnest_series(
                'spans.first_bucket_ns', 'spans.last_bucket_ns', ns
            ) }} as bucket_ns
        from spans
        inner join captures
            on spans.capture_id = captures.capture_id
    )

    select
        buckets.capture_id,
        buckets.source_kind,
        {{ timestamp_from_us(int_div('buckets.bucket_ns', 1000)) }} as bucket_at,
        {{ int_div('buckets.bucket_ns - buckets.first_bucket_ns', ns) }}
            as bucket_index,
        coalesce(counted.packets, 0) as packets,
        coalesce(counted.wire_bytes, 0) as wire_bytes,
        coalesce(counted.captured_bytes, 0) as captured_bytes
    from buckets
    left join counted
        on
            buckets.capture_id = counted.capture_id
            and buckets.bucket_ns = counted.bucket_ns
{% endmacro %}

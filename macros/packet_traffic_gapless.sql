{#- Bytes and packets per capture and time bucket ('minute' or 'hour'), with a
    zero row for every bucket between the capture's first and last packet that
    saw none. `packets` is a relation with capture_id, source_kind, ts_ns and
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
    with

    bucketed as (
        select
            capture_id,
            source_kind,
            (ts_ns // {{ ns }}) * {{ ns }} as bucket_ns,
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

    spans as (
        select
            capture_id,
            any_value(source_kind) as source_kind,
            min(bucket_ns) as first_bucket_ns,
            max(bucket_ns) as last_bucket_ns
        from bucketed
        group by capture_id
    ),

    buckets as (
        select
            capture_id,
            source_kind,
            first_bucket_ns,
            unnest(
                range(first_bucket_ns, last_bucket_ns + 1, {{ ns }})
            ) as bucket_ns
        from spans
    )

    select
        buckets.capture_id,
        buckets.source_kind,
        make_timestamp(buckets.bucket_ns // 1000) as bucket_at,
        (buckets.bucket_ns - buckets.first_bucket_ns) // {{ ns }}
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

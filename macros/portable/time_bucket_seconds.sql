{#- The start of the bucket of `seconds` seconds (an integer expression) that
    holds a timestamp. Buckets are counted from DuckDB's time_bucket origin,
    Monday 2000-01-03 00:00 UTC; any width that divides a day gives the same
    buckets from midnight. -#}
{% macro time_bucket_seconds(seconds, ts) -%}
    {{ return(adapter.dispatch('time_bucket_seconds', 'wirehouse')(seconds, ts)) }}
{%- endmacro %}

{% macro default__time_bucket_seconds(seconds, ts) -%}
    time_bucket(to_seconds({{ seconds }}), {{ ts }})
{%- endmacro %}

{#- pmod is never negative, so times before the origin floor like DuckDB -#}
{% macro spark__time_bucket_seconds(seconds, ts) -%}
    timestamp_micros(
        unix_micros({{ ts }})
        - pmod(
            unix_micros({{ ts }}) - 946857600000000,
            cast({{ seconds }} as bigint) * 1000000
        )
    )
{%- endmacro %}

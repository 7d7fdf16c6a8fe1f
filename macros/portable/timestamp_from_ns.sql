{#- A timestamp from nanoseconds since the Unix epoch (UTC). DuckDB keeps the
    nanoseconds (TIMESTAMP_NS); Spark's timestamps are microseconds, so there
    it is rounded half away from zero, as DuckDB rounds when it casts a
    TIMESTAMP_NS to a TIMESTAMP: both engines then agree to the microsecond.
    (timestamp_micros(ns div 1000) would truncate instead.) -#}
{% macro timestamp_from_ns(nanos) -%}
    {{ return(adapter.dispatch('timestamp_from_ns', 'wirehouse')(nanos)) }}
{%- endmacro %}

{% macro default__timestamp_from_ns(nanos) -%}
    make_timestamp_ns({{ nanos }})
{%- endmacro %}

{% macro spark__timestamp_from_ns(nanos) -%}
    timestamp_micros(
        case
            when {{ nanos }} >= 0 then ({{ nanos }} + 500) div 1000
            else ({{ nanos }} - 500) div 1000
        end
    )
{%- endmacro %}

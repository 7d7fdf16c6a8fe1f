{#- A timestamp plus a whole number of seconds (an integer expression).
    dbt.dateadd on Spark goes through Unix seconds and drops the
    microseconds. -#}
{% macro add_seconds(ts, seconds) -%}
    {{ return(adapter.dispatch('add_seconds', 'wirehouse')(ts, seconds)) }}
{%- endmacro %}

{% macro default__add_seconds(ts, seconds) -%}
    ({{ ts }} + to_seconds({{ seconds }}))
{%- endmacro %}

{% macro spark__add_seconds(ts, seconds) -%}
    ({{ ts }} + make_dt_interval(0, 0, 0, {{ seconds }}))
{%- endmacro %}

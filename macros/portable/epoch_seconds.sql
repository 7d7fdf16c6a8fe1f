{#- Seconds since the Unix epoch of a timestamp, with its fraction (double) -#}
{% macro epoch_seconds(ts) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'wirehouse')(ts)) }}
{%- endmacro %}

{% macro default__epoch_seconds(ts) -%}
    epoch({{ ts }})
{%- endmacro %}

{% macro spark__epoch_seconds(ts) -%}
    (unix_micros({{ ts }}) / 1e6)
{%- endmacro %}

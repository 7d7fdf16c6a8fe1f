{#- A timestamp from whole microseconds since the Unix epoch (UTC) -#}
{% macro timestamp_from_us(micros) -%}
    {{ return(adapter.dispatch('timestamp_from_us', 'wirehouse')(micros)) }}
{%- endmacro %}

{% macro default__timestamp_from_us(micros) -%}
    make_timestamp({{ micros }})
{%- endmacro %}

{% macro spark__timestamp_from_us(micros) -%}
    timestamp_micros({{ micros }})
{%- endmacro %}

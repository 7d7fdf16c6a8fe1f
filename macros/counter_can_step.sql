{#- Boolean SQL: a real counter can go from value `a` at time `ta` to `b` at
    `tb`: it does not go down and grows at most `bound` per second. -#}
{% macro counter_can_step(a, b, ta, tb, bound) -%}
    ({{ b }} >= {{ a }} and {{ b }} - {{ a }} <= {{ bound }}
        * greatest({{ datediff_seconds(ta, tb) }}, 1))
{%- endmacro %}

{#- Aggregate of one systemd counter over a period, by var counter_mode:
    exact: sum of the reset-aware per-sample deltas;
    seed:  the notebooks' rule, sum of raw differences, negative sums -> 0.
    A counter the file does not have (NULL in every sample) sums to NULL in
    both modes, not 0. -#}
{% macro sum_counter_deltas(counter) -%}
    {%- set mode = var('counter_mode') -%}
    {%- if mode == 'exact' -%}
        sum({{ counter }}_delta)
    {%- elif mode == 'seed' -%}
        case
            when sum({{ counter }}_raw_diff) < 0 then 0
            else sum({{ counter }}_raw_diff)
        end
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var counter_mode must be 'exact' or 'seed', got '" ~ mode ~ "'"
        ) }}
    {%- endif -%}
{%- endmacro %}

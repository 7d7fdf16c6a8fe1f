{#- Aggregates whose result does not depend on row order. A sum of doubles
    rounds differently as threads split the rows differently, so two builds
    of the same files could differ in the last bits. These sum in fixed
    point instead: exact, hence the same bits on every build, any thread
    count, DuckDB or Spark (both sum decimals exactly). -#}

{#- Mean of a double expression, each value rounded to 1e-9 of its unit
    first (a millisecond value to the femtosecond) -#}
{% macro exact_avg(expr) -%}
    avg(({{ expr }})::decimal(38, 9))::double
{%- endmacro %}

{#- Sum of a double expression, each value rounded to 1e-9 of its unit -#}
{% macro exact_sum(expr) -%}
    sum(({{ expr }})::decimal(38, 9))::double
{%- endmacro %}

{#- Population standard deviation of an integer expression from its exact
    count, sum and sum of squares (no rounding before the last division) -#}
{% macro exact_stddev_pop(expr) -%}
    sqrt(
        (
            count({{ expr }}) * sum(({{ expr }})::decimal(38, 0) * ({{ expr }}))
            - sum(({{ expr }})::decimal(38, 0)) * sum(({{ expr }})::decimal(38, 0))
        )::double
        / (count({{ expr }})::double * count({{ expr }}))
    )
{%- endmacro %}

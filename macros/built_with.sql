{#- What each model was built with, so a plain `dbt build` never leaves rows
    computed with other settings (README "Changing vars"). One row per model
    in <target schema>.wirehouse_model_builds: the values of the vars it
    depends on (those var_rules says it or an ancestor reads, as JSON) and
    the sha of the model's own SQL, written by a post-hook.
    - An incremental model built with other settings or SQL is rebuilt in
      full (should_full_refresh below; is_incremental() reads it too).
    - A model whose input model was built with other vars stops with one
      line naming the input and the vars: building it alone (-s) would mix
      two settings. -#}

{% macro model_builds_table() -%}
    {{ return(target.schema ~ '.wirehouse_model_builds') }}
{%- endmacro %}

{#- on-run-start: vars checked before anything runs, then the table -#}
{% macro wirehouse_run_start() -%}
    {%- do check_vars() -%}
    {{ adapter.dispatch('create_model_builds_table', 'wirehouse')() }}
{%- endmacro %}

{% macro default__create_model_builds_table() -%}
    create table if not exists {{ model_builds_table() }} (
        model varchar primary key,
        settings varchar not null,
        code_sha varchar not null,
        built_at timestamp not null
    )
{%- endmacro %}

{#- Spark: no primary key and no upsert on Parquet tables, so the table is
    appended to and a model's newest row is its record (recorded_build) -#}
{% macro spark__create_model_builds_table() -%}
    {%- do run_query('create schema if not exists ' ~ target.schema) -%}
    create table if not exists {{ model_builds_table() }} (
        model string,
        settings string,
        code_sha string,
        built_at timestamp
    ) using parquet
{%- endmacro %}

{#- The vars a model depends on: those read (var_rules read_by) by the
    model or any model upstream of it -#}
{% macro vars_of(unique_id) -%}
    {%- set lineage = namespace(names=[], frontier=[unique_id]) -%}
    {#- breadth first; a DAG is never deeper than it has models -#}
    {%- for _ in graph.nodes if lineage.frontier -%}
        {%- set next = [] -%}
        {%- for uid in lineage.frontier if uid in graph.nodes -%}
            {%- set node = graph.nodes[uid] -%}
            {%- if node.name not in lineage.names -%}
                {%- do lineage.names.append(node.name) -%}
                {%- do next.extend(node.depends_on.nodes) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set lineage.frontier = next -%}
    {%- endfor -%}
    {%- set names = [] -%}
    {%- for name, rule in var_rules().items() -%}
        {%- if rule['read_by'] | select('in', lineage.names) | list -%}
            {%- do names.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}

{#- The values in force of some vars, as a dict -#}
{% macro build_settings(names) -%}
    {%- set values = {} -%}
    {%- for name in names -%}
        {%- set value = var(name) -%}
        {%- if not (value is none or value is number or value is string) -%}
            {%- set value = value | string -%}  {#- a YAML date or time -#}
        {%- endif -%}
        {%- do values.update({name: value}) -%}
    {%- endfor -%}
    {{ return(values) }}
{%- endmacro %}

{#- The recorded row of a model: {'settings': dict, 'code_sha': str}, or
    none (never recorded, or no table yet: an older warehouse) -#}
{% macro recorded_build(unique_id) -%}
    {%- set table = adapter.get_relation(
        database=target.database,
        schema=target.schema,
        identifier='wirehouse_model_builds',
    ) -%}
    {%- if table is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        'select settings, code_sha from ' ~ table
        ~ " where model = '" ~ unique_id ~ "'"
        ~ ' order by built_at desc limit 1'
    ).rows -%}
    {%- if rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return({
        'settings': fromjson(rows[0][0]), 'code_sha': rows[0][1]
    }) }}
{%- endmacro %}

{#- The names of the vars whose values differ between two settings -#}
{% macro vars_that_differ(before, now) -%}
    {%- set names = [] -%}
    {%- for name in (before.keys() | list) + (now.keys() | list) -%}
        {%- if name not in names and before.get(name) != now.get(name) -%}
            {%- do names.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}

{#- True when this incremental model's table was built with other vars or
    other SQL (or by a wirehouse that did not record it) -#}
{% macro built_with_other_settings() -%}
    {%- set recorded = recorded_build(model.unique_id) -%}
    {%- if recorded is none -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(
        recorded['settings'] != build_settings(vars_of(model.unique_id))
        or recorded['code_sha'] != local_md5(model.raw_code)
    ) }}
{%- endmacro %}

{#- dbt's own rule (--full-refresh, the full_refresh config), and an
    incremental model whose table was built with other settings or SQL -#}
{% macro should_full_refresh() -%}
    {%- set config_full_refresh = config.get('full_refresh') -%}
    {%- if config_full_refresh is none -%}
        {%- set config_full_refresh = flags.FULL_REFRESH -%}
        {%- if not config_full_refresh and execute
            and model.resource_type == 'model'
            and model.config.materialized == 'incremental'
            and load_relation(this) is not none -%}
            {%- set config_full_refresh = built_with_other_settings() -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(config_full_refresh) }}
{%- endmacro %}

{#- pre-hook: stop if an input model was built with other vars, or never -#}
{% macro check_inputs_built_alike() -%}
    {%- if execute -%}
        {%- for parent in model.depends_on.nodes
            if parent.startswith('model.') -%}
            {%- set recorded = recorded_build(parent) -%}
            {%- set input = graph.nodes[parent] -%}
            {%- if recorded is none
                and input.config.materialized != 'ephemeral'
                and adapter.get_relation(
                    database=input.database,
                    schema=input.schema,
                    identifier=input.alias,
                ) is none -%}
                {{ exceptions.raise_compiler_error(
                    'wirehouse: ' ~ model.name ~ ': its input ' ~ input.name
                    ~ ' has not been built yet; build the inputs too: '
                    ~ 'dbt build -s +' ~ model.name
                ) }}
            {%- elif recorded is not none -%}
                {%- set differ = vars_that_differ(
                    recorded['settings'], build_settings(vars_of(parent))
                ) -%}
                {%- if differ -%}
                    {{ exceptions.raise_compiler_error(
                        'wirehouse: ' ~ model.name ~ ': its input '
                        ~ parent.split('.')[-1] ~ ' was built with other vars ('
                        ~ differ | join(', ') ~ '); build the inputs too: '
                        ~ 'dbt build -s +' ~ model.name
                    ) }}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- post-hook: record what this model was built with -#}
{% macro record_build() -%}
    {%- if execute -%}
        {{ adapter.dispatch('record_build_insert', 'wirehouse')() }} {{ model_builds_table() }}
        values (
            '{{ model.unique_id }}',
            '{{ tojson(build_settings(vars_of(model.unique_id)), sort_keys=true)
                | replace("'", "''") }}',
            '{{ local_md5(model.raw_code) }}',
            cast(current_timestamp as timestamp)
        )
    {%- endif -%}
{%- endmacro %}

{% macro default__record_build_insert() -%}
    insert or replace into
{%- endmacro %}

{#- appended; recorded_build reads the newest row of a model -#}
{% macro spark__record_build_insert() -%}
    insert into
{%- endmacro %}

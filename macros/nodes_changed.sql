{#- The nodes whose Bitcoin rows of one kind were loaded after this
    incremental model was last built, or removed since it was built
    (raw.removed_rows: forget, --replace, relabel), each with the first UTC
    day of those rows: a list of [node_id, 'YYYY-MM-DD']; none on a full
    build (rebuild everything). `kind` is 'messages' (the tracepoints) or
    'samples' (the systemd counters, in either form); the incremental
    strategy calls it without, for the kind the model's own call named (its
    staging relations are among the model's inputs). A model selects each such node's
    rows from that day on (rebuilt_rows), and the incremental strategy
    replaces the model's rows of that range, so restarts, counter series
    and connections that cross the day are recomputed with what came after
    them, and rows whose input was removed go. -#}
{% macro nodes_changed(kind=none) -%}
    {%- set incremental_strategy = kind is none -%}
    {%- if incremental_strategy -%}
        {%- set kind = incremental_input_kind() -%}
    {%- endif -%}
    {%- if kind == 'messages' -%}
        {%- set relations = [ref('stg_bitcoin_p2p__messages')] -%}
        {%- set raw_tables = ['bitcoin_p2p_messages'] -%}
        {%- set time_column = 'logged_at' -%}
    {%- elif kind == 'samples' -%}
        {%- set relations = [
            ref('stg_systemd_ip_accounting__samples'),
            ref('stg_systemd_ip_accounting__intervals'),
        ] -%}
        {%- set raw_tables = [
            'systemd_ip_accounting_samples', 'systemd_ip_accounting_intervals'
        ] -%}
        {%- set time_column = 'sampled_at' -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "nodes_changed: kind must be 'messages' or 'samples', got " ~ kind
        ) }}
    {%- endif -%}
    {%- if not execute -%}
        {%- do ref('stg_wirehouse__removed_rows') -%}  {#- parsing: an input -#}
        {{ return(none) }}
    {%- endif -%}
    {#- unit tests have no `this`: they build in full; the incremental
        strategy runs only in an incremental build -#}
    {%- if this is none or not (incremental_strategy or is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set removals = ref('stg_wirehouse__removed_rows') -%}
    {#- the newest input row in the table, and when it was built (an
        incremental build has a recorded build, else should_full_refresh) -#}
    {%- set marks = run_query(
        'select (select max(loaded_at) from ' ~ this ~ '), (select max(built_at) from '
        ~ model_builds_table() ~ " where model = '" ~ model.unique_id ~ "')"
    ).rows[0] -%}
    {%- set loaded, built_at = marks[0], marks[1] -%}
    {%- set branches = [] -%}
    {%- for relation in relations -%}
        {%- set branch -%}
            select node_id, {{ time_column }} as changed_at
            from {{ relation }}
            {%- if loaded is not none %}
                where loaded_at > cast('{{ loaded }}' as timestamp)
            {%- endif %}
        {%- endset -%}
        {%- do branches.append(branch) -%}
    {%- endfor -%}
    {%- set removed -%}
        -- removed rows without a timestamp: the node's every row (the
        -- earliest day below; no '-infinity', which Spark has not)
        select
            node_id,
            coalesce(first_removed_at, '0001-01-01'::timestamp) as changed_at
        from {{ removals }}
        where
            table_name in ('{{ raw_tables | join("', '") }}')
            {%- if built_at is not none %}
                and removed_at > cast('{{ built_at }}' as timestamp)
            {%- endif %}
    {%- endset -%}
    {%- do branches.append(removed) -%}
    {%- set changed -%}
        select
            node_id,
            cast(cast(greatest(
                min(changed_at), '0001-01-01'::timestamp
            ) as date) as string) as from_date
        from ({{ branches | join(' union all ') }}) as changed
        where changed_at is not null
        group by node_id
        order by node_id
    {%- endset -%}
    {{ return(run_query(changed).rows | map('list') | list) }}
{%- endmacro %}

{#- The kind of the model's nodes_changed call, from the staging relation
    it refs: the incremental strategy knows the model, not the call -#}
{% macro incremental_input_kind() -%}
    {%- set inputs = model.depends_on.nodes | join(' ') -%}
    {%- set kinds = [] -%}
    {%- if '.stg_bitcoin_p2p__messages' in inputs -%}
        {%- do kinds.append('messages') -%}
    {%- endif -%}
    {%- if '.stg_systemd_ip_accounting__samples' in inputs -%}
        {%- do kinds.append('samples') -%}
    {%- endif -%}
    {%- if kinds | length != 1 -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ': an incremental model reads one kind through'
            ~ " nodes_changed('messages') or nodes_changed('samples')"
        ) }}
    {%- endif -%}
    {{ return(kinds[0]) }}
{%- endmacro %}
